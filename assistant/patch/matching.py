"""Find a model's search text in a file and replace it, exactly first, then tolerantly.

Models copy code imperfectly: trailing spaces vanish, a block is quoted with the
wrong indentation, blank lines are added around it.  Each pass below accepts a
little more difference; the first pass that finds the text decides.  A search
text that matches in several places is rejected rather than guessed, and so is
one that matches nowhere: a patch is never applied to the wrong lines.

All functions work on ``\\n`` line endings; :mod:`assistant.patch.changes`
converts CRLF files around them.
"""

from __future__ import annotations

from dataclasses import dataclass

EXACT = "exact"
TRAILING_WHITESPACE = "trailing-whitespace"
INDENTATION = "indentation"
SUBSTRING = "substring"


class MatchError(ValueError):
    """The search text cannot be placed; ``kind`` is ``no-match``, ``multi-match`` or ``empty-search``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Replacement:
    """The result of one replacement: the new content and the pass that matched."""

    content: str
    strategy: str
    start_line: int  # 1-based first line of the matched text in the old content


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _trim_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _indent_delta(file_lines: list[str], search_lines: list[str]) -> tuple[str, str] | None:
    """``(add, remove)``: the file's lines equal the search lines with ``remove`` cut and ``add`` put in front.

    Returns ``None`` when the indentation differs inconsistently (then it is not
    the same code, merely similar).
    """
    delta: tuple[str, str] | None = None
    for f, s in zip(file_lines, search_lines, strict=True):
        if not s.strip() and not f.strip():
            continue
        if f.strip() != s.strip():
            return None
        fi, si = _leading(f), _leading(s)
        if fi.endswith(si):
            this = (fi[: len(fi) - len(si)], "")
        elif si.endswith(fi):
            this = ("", si[: len(si) - len(fi)])
        else:
            return None
        if delta is None:
            delta = this
        elif delta != this:
            return None
    return delta or ("", "")


def _find_line_matches(content_lines: list[str], search_lines: list[str], equal) -> list[int]:
    n = len(search_lines)
    return [i for i in range(len(content_lines) - n + 1) if equal(content_lines[i:i + n], search_lines)]


def _reindent(text_lines: list[str], add: str, remove: str) -> list[str]:
    out = []
    for line in text_lines:
        if not line.strip():
            out.append(line)
            continue
        if remove and line.startswith(remove):
            line = line[len(remove):]
        out.append(add + line)
    return out


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _bounded_occurrences(content: str, needle: str) -> list[int]:
    """Start offsets of ``needle`` that do not cut an identifier in half at either end."""
    found: list[int] = []
    if not needle.strip():
        return found
    at = content.find(needle)
    while at != -1:
        before = content[at - 1] if at > 0 else ""
        after = content[at + len(needle)] if at + len(needle) < len(content) else ""
        cuts_start = bool(before) and _is_word(before) and _is_word(needle[0])
        cuts_end = bool(after) and _is_word(after) and _is_word(needle[-1])
        if not cuts_start and not cuts_end:
            found.append(at)
        at = content.find(needle, at + 1)
    return found


def replace_once(content: str, search: str, replace: str) -> Replacement:
    """Replace the single place where ``search`` occurs in ``content``.

    Passes: exact lines; lines equal up to trailing whitespace; lines equal up to a
    consistent indentation shift (the replacement is shifted the same way) with
    blank lines around the search text ignored; and finally a raw substring that
    occurs exactly once (a search text that is part of a line).
    """
    if not search.strip():
        raise MatchError("empty-search", "SEARCH text is empty (only allowed when creating a new file)")
    content_lines = content.split("\n")
    search_lines = search.split("\n")
    if search_lines and search_lines[-1] == "":
        search_lines = search_lines[:-1]
    replace_lines = replace.split("\n")
    if replace_lines and replace_lines[-1] == "":
        replace_lines = replace_lines[:-1]

    trimmed = _trim_blank_edges(search_lines)
    edges_trimmed = len(trimmed) != len(search_lines)
    replace_trimmed = _trim_blank_edges(replace_lines) if edges_trimmed else replace_lines
    passes = (
        (EXACT, search_lines, lambda a, b: a == b),
        (TRAILING_WHITESPACE, trimmed, lambda a, b: [x.rstrip() for x in a] == [y.rstrip() for y in b]),
        (INDENTATION, trimmed, lambda a, b: _indent_delta(a, b) is not None),
    )
    for strategy, lines, equal in passes:
        if not lines:
            continue
        hits = _find_line_matches(content_lines, lines, equal)
        if len(hits) > 1:
            where = ", ".join(str(h + 1) for h in hits[:5])
            raise MatchError("multi-match", f"SEARCH text matches {len(hits)} places (lines {where}); "
                                            "it must match exactly one")
        if len(hits) == 1:
            start = hits[0]
            matched = content_lines[start:start + len(lines)]
            new_lines = replace_lines if strategy == EXACT else replace_trimmed
            if strategy == INDENTATION:
                add, remove = _indent_delta(matched, lines) or ("", "")
                new_lines = _reindent(new_lines, add, remove)
            result = content_lines[:start] + new_lines + content_lines[start + len(lines):]
            return Replacement("\n".join(result), strategy, start + 1)

    stripped = search.strip("\n")
    starts = _bounded_occurrences(content, stripped)
    if len(starts) == 1:
        at = starts[0]
        new = content[:at] + replace.strip("\n") + content[at + len(stripped):]
        return Replacement(new, SUBSTRING, content.count("\n", 0, at) + 1)
    if len(starts) > 1:
        raise MatchError("multi-match", f"SEARCH text matches {len(starts)} places; it must match exactly one")
    first = next((line.strip() for line in search_lines if line.strip()), "")
    raise MatchError("no-match", f"SEARCH text not found (starting {first[:60]!r})")
