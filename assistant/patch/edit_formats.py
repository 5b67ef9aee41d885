"""Edit formats: how the model is asked for changes, and how its reply is read back.

Three formats, as in Aider's benchmarks:

- ``search-replace``: blocks of ``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE``
  under a file path.  Compact and precise; strong models manage it well.
- ``udiff``: a unified diff.  Hunk line numbers are ignored (models get them
  wrong); each hunk becomes a search/replace pair of its context and changed lines.
- ``whole-file``: the complete new file in a fenced block.  The most robust format
  for small models (Aider measured 99.6% well-formed replies for whole files vs
  71.6% for search/replace with Qwen2.5-Coder-32B), but it costs output tokens,
  so it is only chosen for small files.

The parsers are deliberately tolerant of what models really write (missing or
extra fences, a path wrapped in backticks or bold, ``a/``/``b/`` prefixes, blank
lines without their leading space in diffs) and strict about anything that could
change the wrong thing: a block without its closing marker, a truncated code
block or an edit without a file path makes the whole reply malformed.  The
parsers never touch the disk; paths are checked by :mod:`assistant.patch.safety`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

SEARCH_REPLACE = "search-replace"
UDIFF = "udiff"
WHOLE_FILE = "whole-file"
FORMATS = (SEARCH_REPLACE, UDIFF, WHOLE_FILE)

# Built-in format per model family, used by ``edit_format = "auto"`` for models that
# are not small.  Families not listed get search/replace.
FAMILY_FORMATS: dict[str, str] = {
    "qwen2.5-coder": SEARCH_REPLACE,
    "qwen": SEARCH_REPLACE,
    "deepseek-coder": SEARCH_REPLACE,
    "starcoder2": SEARCH_REPLACE,
    "codellama": WHOLE_FILE,
}
SMALL_MODEL_PARAMS_B = 3.0  # models below this many billion parameters count as small
WHOLE_FILE_MAX_LINES = 200  # whole-file rewrites only for files up to this size


class MalformedReply(ValueError):
    """The reply cannot be read as edits; ``str(exc)`` is the reason shown to the user."""


@dataclass(frozen=True)
class Edit:
    """One change to one file, as the model asked for it.

    ``search`` is the text to find (empty: create the file); ``whole_file`` means
    ``replace`` is the file's complete new content.
    """

    path: str
    search: str
    replace: str
    whole_file: bool = False


@dataclass
class ParsedReply:
    """The edits of one reply, which parser read them and whether that was the one asked for."""

    edits: list[Edit]
    requested: str
    parsed_as: str

    @property
    def well_formed(self) -> bool:
        """True when the reply followed the requested format (not read by a fallback parser)."""
        return self.parsed_as == self.requested


# --------------------------------------------------------------------------- format choice

_SIZE_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.IGNORECASE)


def model_size_b(model_name: str) -> float | None:
    """Parameters in billions guessed from a name like ``Qwen2.5-Coder-7B`` or ``SmolLM2-135M``."""
    matches = _SIZE_RE.findall(PurePosixPath(model_name).name)
    if not matches:
        return None
    number, unit = matches[-1]
    value = float(number)
    return value / 1000.0 if unit.lower() == "m" else value


def parse_format_setting(value: str) -> dict[str, str]:
    """Read ``patch.edit_format``: one format, ``auto``, or ``family=format`` pairs (``*`` = others).

    >>> parse_format_setting("qwen2.5-coder=udiff, *=whole-file")
    {'qwen2.5-coder': 'udiff', '*': 'whole-file'}
    """
    from base.errors import ConfigError

    text = value.strip()
    allowed = (*FORMATS, "auto")
    if "=" not in text:
        if text not in allowed:
            raise ConfigError(f"patch.edit_format: unknown format {text!r} (use {', '.join(allowed)})")
        return {"*": text}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ConfigError(f"patch.edit_format: expected family=format, got {part.strip()!r}")
        family, fmt = (piece.strip() for piece in part.split("=", 1))
        if fmt not in allowed:
            raise ConfigError(f"patch.edit_format: unknown format {fmt!r} for {family!r}")
        mapping[family.lower()] = fmt
    return mapping


def choose_edit_format(
    setting: str,
    *,
    model_name: str,
    family: str | None,
    file_lines: Sequence[int],
    file_tokens: Sequence[int] = (),
    max_new_tokens: int = 0,
) -> tuple[str, str]:
    """The edit format to ask for, and why (shown in the report).

    ``auto`` picks whole-file rewrites when the model is small and every file in
    the prompt is small enough to be written back in full within
    ``max_new_tokens``; otherwise the family's format (search/replace by default).
    """
    mapping = parse_format_setting(setting)
    family_key = (family or "").lower()
    chosen = mapping.get(family_key) or mapping.get("*", "auto")
    if chosen != "auto":
        where = f"family {family_key}" if family_key in mapping else "setting"
        return chosen, f"patch.edit_format ({where})"
    size = model_size_b(model_name)
    small_model = size is not None and size < SMALL_MODEL_PARAMS_B
    small_files = bool(file_lines) and max(file_lines) <= WHOLE_FILE_MAX_LINES
    fits_output = not file_tokens or not max_new_tokens or max(file_tokens) * 1.1 + 32 <= max_new_tokens
    if small_model and small_files and fits_output:
        return WHOLE_FILE, f"auto: small model ({size:g}B) and small files"
    if family_key in FAMILY_FORMATS:
        return FAMILY_FORMATS[family_key], f"auto: default for the {family_key} family"
    if small_model and not fits_output:
        return SEARCH_REPLACE, f"auto: files too long to rewrite within {max_new_tokens} new tokens"
    return SEARCH_REPLACE, "auto: default"


# --------------------------------------------------------------------------- prompts

_FENCE_LANG = {
    ".py": "python", ".js": "javascript", ".jsx": "jsx", ".ts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp",
    ".hpp": "cpp", ".rb": "ruby", ".sql": "sql", ".md": "markdown", ".toml": "toml", ".json": "json",
    ".yaml": "yaml", ".yml": "yaml", ".sh": "bash",
}


def fence_language(path: str) -> str:
    """The Markdown fence language for a path (empty when unknown)."""
    return _FENCE_LANG.get(PurePosixPath(path).suffix.lower(), "")


_SYSTEM = {
    SEARCH_REPLACE: """You are an expert software engineer who fixes issues by editing files.
Reply with SEARCH/REPLACE blocks only. Each block looks exactly like this:

path/to/file.py
```python
<<<<<<< SEARCH
    return total
=======
    return round(total, 2)
>>>>>>> REPLACE
```

The SEARCH part copies existing lines of the file exactly, with their indentation, and must match
one place only. The REPLACE part holds the new lines. Use one block per change. Only edit the files shown.""",
    UDIFF: """You are an expert software engineer who fixes issues by editing files.
Reply with a unified diff only, like this:

```diff
--- a/path/to/file.py
+++ b/path/to/file.py
@@ ... @@
 def total(items):
-    return sum(items)
+    return round(sum(items), 2)
```

Context lines start with a space, removed lines with -, added lines with +. Copy context lines exactly.
Only edit the files shown.""",
    WHOLE_FILE: """You are an expert software engineer who fixes issues by editing files.
Reply with the complete new content of each file you change: the file path on its own line, then
the whole file in a fenced code block, like this:

path/to/file.py
```python
def total(items):
    return round(sum(items), 2)
```

Write every line of the file, changed or not; never shorten it with "..." or comments like
"rest unchanged". Only edit the files shown.""",
}

_ASK = {
    SEARCH_REPLACE: "Write the SEARCH/REPLACE blocks that fix the issue.",
    UDIFF: "Write the unified diff that fixes the issue.",
    WHOLE_FILE: "Write the complete new content of each file you change to fix the issue.",
}


@dataclass(frozen=True)
class PromptFile:
    """A file (or an excerpt of one) shown to the model."""

    path: str
    text: str
    excerpt: bool = False  # True: only some lines are shown (the model may not rewrite it whole)


def system_prompt(edit_format: str) -> str:
    """The system message that teaches ``edit_format``."""
    return _SYSTEM[edit_format]


def user_prompt(edit_format: str, issue: str, files: Sequence[PromptFile], extra_context: str = "",
                rules: str = "") -> str:
    """The user message: project rules, the issue, the files to edit, optional extra context, and the request."""
    parts = [rules.strip(), ""] if rules.strip() else []
    parts += ["Issue:", issue.strip(), "", "Files:"]
    for f in files:
        note = " (excerpt: only the lines shown may be edited)" if f.excerpt else ""
        body = f.text if f.text.endswith("\n") else f.text + "\n"
        parts.append(f"\n{f.path}{note}\n```{fence_language(f.path)}\n{body}```")
    if extra_context.strip():
        parts += ["", "Other code that may help (do not edit):", extra_context.strip()]
    parts += ["", _ASK[edit_format]]
    return "\n".join(parts)


# --------------------------------------------------------------------------- shared helpers

_FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})\s*([^`]*)$")
_PATH_TOKEN_RE = re.compile(r"(?:[A-Za-z0-9_.~-]*/)*[A-Za-z0-9_.~-]*[A-Za-z0-9_~-]\.[A-Za-z0-9_]+|"
                            r"/?(?:[A-Za-z0-9_.~-]+/)+[A-Za-z0-9_.~-]+")
_LABEL_RE = re.compile(r"^(?:file(?:name)?|path|in|edit|update|changes? (?:to|in))\s*[:=]?\s*", re.IGNORECASE)


def _resolve_known(token: str, known: Sequence[str]) -> str:
    """Map a path the model wrote to a file it was shown (``pricing.py`` → ``shop/pricing.py``)."""
    token = token.removeprefix("./")
    if token in known:
        return token
    tails = [k for k in known if k.endswith("/" + token)]
    if len(tails) == 1:
        return tails[0]
    return token


def path_from_line(line: str, known: Sequence[str] = ()) -> str | None:
    """The file path named on a line like ``shop/x.py``, ``**shop/x.py**``, ``File: `shop/x.py```."""
    text = line.strip()
    fence = _FENCE_RE.match(text)
    if fence:
        info = fence.group(2).strip().split()
        text = info[-1] if info and ("/" in info[-1] or "." in info[-1]) else ""
    text = text.strip("*#`'\": ").strip()
    text = _LABEL_RE.sub("", text).strip("*`'\": ")
    if not text:
        return None
    if text.split()[0] in known or text in known:
        return text if text in known else text.split()[0]
    tokens = [t.rstrip(".") for t in _PATH_TOKEN_RE.findall(text)]
    tokens = [t for t in tokens if t and t not in {".", ".."} and not re.fullmatch(r"[\d.]+", t)]
    if not tokens:
        return None
    for token in reversed(tokens):
        resolved = _resolve_known(token, known)
        if resolved in known:
            return resolved
    token = tokens[-1]
    looks_like_path = "/" in token or PurePosixPath(token).suffix.lower() in _FENCE_LANG or text == token
    return _resolve_known(token, known) if looks_like_path else None


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n")


# --------------------------------------------------------------------------- search/replace

_HEAD_RE = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$")
_DIVIDER_RE = re.compile(r"^\s*={5,9}\s*$")
_UPDATED_RE = re.compile(r"^\s*>{5,9}\s*(?:REPLACE|UPDATED)\b.*$")


def parse_search_replace(reply: str, known: Sequence[str] = ()) -> list[Edit]:
    """Read ``<<<<<<< SEARCH`` blocks; a path comes from the lines just above each block.

    A block without a path reuses the previous block's path, or the only file
    shown when there is exactly one.  Raises :class:`MalformedReply`.
    """
    lines = _normalise(reply).split("\n")
    edits: list[Edit] = []
    current_path: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if _DIVIDER_RE.match(line) or _UPDATED_RE.match(line):
            raise MalformedReply(f"line {i + 1}: '{line.strip()}' without a preceding <<<<<<< SEARCH")
        if not _HEAD_RE.match(line):
            i += 1
            continue
        path = _path_above(lines, i, known)
        if path is None:
            path = current_path or (known[0] if len(known) == 1 else None)
        if path is None:
            raise MalformedReply(f"line {i + 1}: SEARCH block without a file path")
        search, j = _collect(lines, i + 1, _DIVIDER_RE, "=======", i)
        replace, k = _collect(lines, j + 1, _UPDATED_RE, ">>>>>>> REPLACE", i)
        edits.append(Edit(path=path, search=search, replace=replace))
        current_path = path
        i = k + 1
    if not edits:
        raise MalformedReply("no SEARCH/REPLACE blocks found")
    return edits


def _path_above(lines: list[str], head: int, known: Sequence[str]) -> str | None:
    """The path on the nearest meaningful line above a SEARCH marker (at most 3 lines up)."""
    seen = 0
    for back in range(head - 1, max(-1, head - 5), -1):
        text = lines[back].strip()
        if not text:
            continue
        fence = _FENCE_RE.match(text)
        if fence and not path_from_line(text, known):
            continue
        if _UPDATED_RE.match(text):
            return None
        seen += 1
        if seen > 1:
            return None
        return path_from_line(text, known)
    return None


def _collect(lines: list[str], start: int, end_re: re.Pattern[str], marker: str, head: int) -> tuple[str, int]:
    body: list[str] = []
    for j in range(start, len(lines)):
        if end_re.match(lines[j]):
            return ("\n".join(body) + "\n") if body else "", j
        if _HEAD_RE.match(lines[j]) or (marker == "=======" and _UPDATED_RE.match(lines[j])) or (
            marker != "=======" and _DIVIDER_RE.match(lines[j])
        ):
            raise MalformedReply(f"block at line {head + 1}: found '{lines[j].strip()}' before '{marker}'")
        body.append(lines[j])
    raise MalformedReply(f"block at line {head + 1}: missing '{marker}' (reply cut off?)")


# --------------------------------------------------------------------------- unified diff

_HUNK_RE = re.compile(r"^@@.*@@.*$|^@@\s*$")
_GIT_META = ("index ", "new file mode", "deleted file mode", "old mode", "new mode", "similarity index",
             "rename from", "rename to", "Binary files")


def _diff_path(header: str, known: Sequence[str]) -> str | None:
    raw = header.split("\t", 1)[0].strip()
    if raw == "/dev/null":
        return None
    for prefix in ("a/", "b/"):
        if raw.startswith(prefix) and (raw[2:] in known or raw not in known):
            raw = raw[2:]
            break
    return _resolve_known(raw, known)


def parse_udiff(reply: str, known: Sequence[str] = ()) -> list[Edit]:
    """Read unified diffs: each hunk becomes a search/replace edit (line numbers are ignored)."""
    lines = _normalise(reply).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline is not a blank context line
    edits: list[Edit] = []
    i = 0
    found_header = False
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        found_header = True
        old_path = _diff_path(lines[i][4:], known)
        new_path = _diff_path(lines[i + 1][4:], known)
        if new_path is None:
            raise MalformedReply(f"line {i + 2}: deleting files is not supported")
        if old_path is not None and old_path != new_path:
            raise MalformedReply(f"line {i + 1}: renaming files is not supported ({old_path} -> {new_path})")
        hunks, i = _read_hunks(lines, i + 2)
        file_edits = [h for h in (_hunk_edit(new_path, h, creating=old_path is None) for h in hunks) if h]
        if not file_edits:
            raise MalformedReply(f"diff for {new_path} has no added or removed lines")
        edits.extend(file_edits)
    if not found_header:
        raise MalformedReply("no unified diff (--- / +++ headers) found")
    return edits


def _read_hunks(lines: list[str], i: int) -> tuple[list[list[str]], int]:
    hunks: list[list[str]] = []
    current: list[str] | None = None
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            break
        if line.startswith("diff ") or _FENCE_RE.match(line):
            i += 1
            break
        if _HUNK_RE.match(line):
            current = []
            hunks.append(current)
        elif line.startswith(_GIT_META) or line.startswith("\\"):
            pass
        elif line[:1] in {" ", "-", "+"} or line == "":
            if current is None:
                current = []
                hunks.append(current)
            current.append(line if line else " ")
        else:
            if current:  # prose after a hunk ends this file's diff
                i += 1
                break
        i += 1
    return hunks, i


def _hunk_edit(path: str, hunk: list[str], *, creating: bool) -> Edit | None:
    # Blank context lines a model adds after a hunk stay in both halves; the
    # matcher's tolerant pass ignores blank lines at the edges.
    if not any(line[:1] in {"-", "+"} for line in hunk):
        return None
    search = "".join(line[1:] + "\n" for line in hunk if line[:1] in {" ", "-"})
    replace = "".join(line[1:] + "\n" for line in hunk if line[:1] in {" ", "+"})
    if creating:
        if search.strip():
            raise MalformedReply(f"diff creating {path} has context or removed lines")
        return Edit(path=path, search="", replace=replace)
    # A hunk without context (pure addition) can only be placed in an empty file;
    # the matcher rejects it anywhere else.
    return Edit(path=path, search=search, replace=replace)


# --------------------------------------------------------------------------- whole file


def parse_whole_file(reply: str, known: Sequence[str] = ()) -> list[Edit]:
    """Read ``path`` + fenced block pairs as complete new file contents.

    A block without a path is taken for the only file shown (when exactly one
    was shown and the reply holds one block); an unterminated block (reply cut
    off by the token limit) makes the reply malformed rather than truncating a file.
    """
    lines = _normalise(reply).split("\n")
    blocks: list[tuple[str | None, str, int]] = []
    i = 0
    while i < len(lines):
        fence = _FENCE_RE.match(lines[i])
        if not fence:
            i += 1
            continue
        ticks = fence.group(1)
        path = path_from_line(lines[i], known)
        if path is None:
            path = _path_above(lines, i, known)
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == ticks), None)
        if end is None:
            raise MalformedReply(f"code block at line {i + 1} is not closed (reply cut off?)")
        body = lines[i + 1:end]
        blocks.append((path, "\n".join(body) + "\n" if body else "", i))
        i = end + 1
    if not blocks:
        raise MalformedReply("no fenced code block with a file's content found")
    if any(path for path, _body, _at in blocks):
        blocks = [b for b in blocks if b[0]]  # prose examples (```bash ...) between files
    edits: list[Edit] = []
    for path, body, at in blocks:
        if path is None:
            if len(blocks) == 1 and len(known) == 1:
                path = known[0]
            else:
                raise MalformedReply(f"code block at line {at + 1} has no file path above it")
        if not body.strip():
            raise MalformedReply(f"code block for {path} is empty")
        edits.append(Edit(path=path, search="", replace=body, whole_file=True))
    return edits


# --------------------------------------------------------------------------- entry point

_PARSERS = {SEARCH_REPLACE: parse_search_replace, UDIFF: parse_udiff, WHOLE_FILE: parse_whole_file}
_FALLBACKS = {SEARCH_REPLACE: (UDIFF,), UDIFF: (SEARCH_REPLACE,), WHOLE_FILE: (SEARCH_REPLACE, UDIFF)}


def parse_reply(reply: str, requested: str, known: Sequence[str] = ()) -> ParsedReply:
    """Parse a reply in the requested format, else in a format whose markers are unmistakable.

    Whole-file parsing is never a fallback: any code block would read as a new
    file.  Raises :class:`MalformedReply` with the requested format's reason.
    """
    if requested not in _PARSERS:
        raise ValueError(f"unknown edit format {requested!r}")
    try:
        return ParsedReply(_PARSERS[requested](reply, known), requested, requested)
    except MalformedReply as first:
        for other in _FALLBACKS[requested]:
            if other == SEARCH_REPLACE and not any(_HEAD_RE.match(x) for x in reply.splitlines()):
                continue
            if other == UDIFF and not re.search(r"^--- .*\n\+\+\+ ", reply, re.MULTILINE):
                continue
            try:
                return ParsedReply(_PARSERS[other](reply, known), requested, other)
            except MalformedReply:
                continue
        raise first


def detect_format(reply: str) -> str:
    """The format a reply written elsewhere (pasted, saved) is most likely in."""
    if any(_HEAD_RE.match(line) for line in reply.splitlines()):
        return SEARCH_REPLACE
    if re.search(r"^--- .*\n\+\+\+ ", reply, re.MULTILINE):
        return UDIFF
    return WHOLE_FILE
