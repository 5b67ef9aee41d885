"""What the validators tell the model about a failed candidate, precisely and within a token budget.

A model repairs a patch far better when it is told exactly what went wrong
than when it is simply sampled again: the parser's complaint and the format
it expected, the real lines closest to a search text that matched nowhere
(with their line numbers), the lines around a syntax error, the new ruff
findings, the tests that fail and the tail of their output.  The text is cut
to the tokens the caller can afford (:func:`fit_to_budget`), so a long test
log never pushes the conversation past the model's window.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence

from assistant.patch.candidate import LINT_CLEAN, TESTS_PASS, Candidate
from assistant.patch.edit_formats import system_prompt

MAX_TEST_OUTPUT_CHARS = 3000
MAX_FILE_LINES_SCANNED = 20_000
TRIM_MARK = "\n[... trimmed to fit the context budget ...]\n"
_SYNTAX_LOC_RE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<msg>.*)$")


def closest_lines(content: str, search: str) -> tuple[int, list[str]] | None:
    """The window of ``content`` most similar to ``search``: (1-based first line, its lines)."""
    wanted = [line for line in search.split("\n")]
    while wanted and not wanted[-1].strip():
        wanted.pop()
    while wanted and not wanted[0].strip():
        wanted.pop(0)
    lines = content.split("\n")[:MAX_FILE_LINES_SCANNED]
    if not wanted or not lines:
        return None
    size = min(len(wanted), len(lines))
    target = "\n".join(w.strip() for w in wanted)
    first = wanted[0].strip()
    best: tuple[float, int] | None = None
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    for start in range(0, len(lines) - size + 1):
        window = lines[start:start + size]
        quick = difflib.SequenceMatcher(None, first, window[0].strip()).quick_ratio()
        if best is not None and quick < 0.3 and best[0] > 0.5:
            continue
        matcher.set_seq1("\n".join(w.strip() for w in window))
        score = matcher.ratio()
        if best is None or score > best[0]:
            best = (score, start)
    if best is None or best[0] < 0.3:
        return None
    start = best[1]
    return start + 1, lines[start:start + size]


def numbered(first_line: int, lines: Sequence[str], mark: int | None = None) -> str:
    """Lines with their numbers (``>`` marks line ``mark``), as the model should quote them back without numbers."""
    width = len(str(first_line + len(lines)))
    out = []
    for offset, line in enumerate(lines):
        number = first_line + offset
        pointer = ">" if number == mark else " "
        out.append(f"{pointer}{number:>{width}} | {line}")
    return "\n".join(out)


def _file_text(candidate: Candidate, path: str, repo_text: Callable[[str], str | None]) -> str | None:
    for change in candidate.changes:
        if change.path == path:
            return change.new.decode("utf-8", "replace")
    return repo_text(path)


def _no_match(candidate: Candidate, repo_text: Callable[[str], str | None]) -> list[str]:
    number = candidate.rejection_edit
    if number is None or not (1 <= number <= len(candidate.edits)):
        return []
    edit = candidate.edits[number - 1]
    content = repo_text(edit.path)
    if content is None:
        return [f"{edit.path} does not exist; to create it, use an empty SEARCH part."]
    found = closest_lines(content, edit.search)
    if found is None:
        return [f"Nothing in {edit.path} resembles that SEARCH text; copy the lines you change from the file."]
    start, lines = found
    return [f"The closest lines in {edit.path} are {start}-{start + len(lines) - 1} (line numbers are not part "
            "of the file; copy the text exactly, with its indentation):",
            "```", numbered(start, lines), "```"]


def _syntax(candidate: Candidate) -> list[str]:
    out: list[str] = []
    v = candidate.validation
    for error in (v.syntax_errors if v else [])[:2]:
        out.append(f"Syntax error: {error}")
        match = _SYNTAX_LOC_RE.match(error)
        if not match:
            continue
        text = _file_text(candidate, match["path"], lambda _p: None)
        if text is None:
            continue
        lines = text.split("\n")
        line = int(match["line"])
        lo = max(1, line - 3)
        out += [f"{match['path']} after your change, around line {line}:", "```",
                numbered(lo, lines[lo - 1:line + 2], mark=line), "```"]
    return out


def _tests(candidate: Candidate) -> list[str]:
    v = candidate.validation
    if v is None or v.tests is None or v.tests.passed:
        return []
    t = v.tests
    out: list[str] = []
    delta = v.test_delta
    if delta is not None and delta.regressions:
        out.append("These tests passed before your change and fail with it: " + ", ".join(delta.regressions[:8]))
    failing = [name for name, result in t.results.items() if result == "failed"]
    if failing:
        out.append("Failing tests: " + ", ".join(failing[:8]) + (" ..." if len(failing) > 8 else ""))
    out.append(f"The test command `{t.command}` exited with {t.returncode}. The end of its output:")
    out += ["```", t.output_tail[-MAX_TEST_OUTPUT_CHARS:].strip(), "```"]
    return out


def needs_repair(candidate: Candidate) -> bool:
    """Whether the validators found something the model could fix (and the tests did not simply hang)."""
    if candidate.verdict == TESTS_PASS:
        return False
    v = candidate.validation
    if v is not None and v.tests is not None and (v.tests.timed_out or v.tests.killed_reason):
        return False  # a hang or a kill: another round would cost another timeout
    if candidate.verdict == LINT_CLEAN:
        return v is not None and v.tests is not None and not v.tests.passed
    return True


def build_feedback(candidate: Candidate, edit_format: str, repo_text: Callable[[str], str | None]) -> str:
    """The message that tells the model what was wrong with its last reply and asks for a corrected one."""
    parts: list[str] = ["Your last reply could not be accepted."]
    kind = candidate.rejection_kind
    if kind == "malformed":
        parts += [f"It could not be read: {candidate.rejection}.", "Reply in exactly this format:",
                  system_prompt(edit_format).split("\n", 1)[1].strip()]
    elif candidate.rejection:
        parts.append(f"It could not be applied: {candidate.rejection}.")
        if kind == "no-match":
            parts += _no_match(candidate, repo_text)
        elif kind == "multi-match":
            parts.append("Add neighbouring lines to the SEARCH text so that it matches one place only.")
    else:
        parts += _syntax(candidate)
        v = candidate.validation
        if v is not None and v.new_findings:
            parts.append("It adds these ruff findings:")
            parts += [f"- {finding}" for finding in v.new_findings[:10]]
        parts += _tests(candidate)
    parts.append("Write the corrected edits in the same format, against the original files as shown above.")
    return "\n".join(parts)


def fit_to_budget(text: str, budget_tokens: int, count: Callable[[str], int]) -> str:
    """``text`` cut (its middle, where a test log's least useful part sits) until ``count`` says it fits."""
    if count(text) <= budget_tokens:
        return text
    head_chars = min(len(text) // 3, 1200)
    head, tail = text[:head_chars], text[head_chars:]
    for _ in range(40):
        tail = tail[len(tail) // 5:]
        shortened = head + TRIM_MARK + tail
        if count(shortened) <= budget_tokens:
            return shortened
        if not tail:
            break
    shortened = head
    while shortened and count(shortened + TRIM_MARK) > budget_tokens:
        shortened = shortened[: int(len(shortened) * 0.8)]
    return shortened + TRIM_MARK if shortened else ""
