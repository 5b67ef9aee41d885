"""Inline code completion at a cursor: prompt, generate, post-process, check the syntax.

1. Context (``--context``): ``repo`` adds definitions and similar code retrieved
   from other files (``retrieval.context.build_context``) to the active-file
   window; ``file`` uses as much of the active file around the cursor as the
   budget allows; ``none`` uses only a small local window (the prefix/suffix
   alone).  Without an index, ``repo`` falls back to ``file`` with a note.
2. Prompt: the family's FIM format when the model really has FIM tokens, in its
   repository-level format when it has one; otherwise prefix-only (the suffix is
   then used only to stop and trim).  The result says which ``mode`` was used.
3. Generation at low temperature; generation stops early as soon as the
   completion is known to be finished (end of the block, suffix reached).
4. Post-processing: keep one line when the cursor is mid-line (unless the line
   opens a block), stop at the end of the enclosing block or where the output
   starts repeating the suffix, trim text that duplicates the rest of the line,
   keep the file's indentation style; then re-parse the file with the completion
   inserted and *report* whether it still parses (``ast`` for Python, tree-sitter
   error nodes otherwise) — a completion that breaks the syntax is shown, flagged.
"""

from __future__ import annotations

import ast
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.models.base import Backend, GenerationParams, GenerationStats
from assistant.models.families import ModelFamily, build_completion_prompt
from base.config import Settings
from base.errors import AssistantError, IndexMissingError, UsageError

if TYPE_CHECKING:
    from retrieval.types import BuiltContext

log = logging.getLogger(__name__)

CONTEXT_MODES = ("repo", "file", "none")
# "none": the prefix/suffix alone, a local window of this many lines.
LOCAL_LINES_BEFORE = 24
LOCAL_LINES_AFTER = 8
# Share of the budget the suffix may take in FIM mode (the prefix matters more).
SUFFIX_SHARE = 0.25

_OPENERS = ("{", "(", "[", "\\", "=>", "->")
_CLOSERS = set(")]}")
_PAIRS = {"(": ")", "[": "]", "{": "}"}


@dataclass
class CompletionResult:
    """One completion and everything a user (or a benchmark) wants to know about it."""

    path: str
    line: int  # 1-based
    col: int  # 0-based
    text: str  # what to insert at the cursor
    raw: str  # what the model produced, before post-processing
    mode: str  # fim or prefix-only
    context: str  # repo, file or none (the one actually used)
    stopped_by: str  # block-end, line-end, suffix-overlap, blank-lines, model-stop, length, cancelled
    parses: bool | None  # the file parses with the completion inserted (None: no parser for the language)
    parsed_before: bool | None  # ...and did it before?
    syntax_error: str = ""
    prompt_tokens: int = 0
    budget: int = 0
    sources: list[str] = field(default_factory=list)  # path:start-end of retrieved context
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    stats: GenerationStats | None = None
    model: str = ""
    retrieved: BuiltContext | None = None  # the repository context the model saw (mode ``repo``)

    @property
    def breaks_syntax(self) -> bool:
        """True when the file parsed before and does not with the completion inserted."""
        return self.parses is False and self.parsed_before is not False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("retrieved")  # its spans are in ``sources``; `repo-assistant context` shows the whole
        data["breaks_syntax"] = self.breaks_syntax
        if self.stats is not None:
            data["stats"] = {**asdict(self.stats), "tokens_per_s": round(self.stats.tokens_per_s, 2)}
        return data


# --- locating the cursor ---------------------------------------------------------------------


def split_at(text: str, line: int, col: int | None) -> tuple[str, str]:
    """``(prefix, suffix)`` of ``text`` at 1-based ``line`` and 0-based ``col`` (None: end of line)."""
    lines = text.splitlines(keepends=True)
    if line < 1 or line > len(lines) + 1:
        raise UsageError(f"line {line} is outside the file (it has {len(lines)} lines)")
    if line == len(lines) + 1:
        if col:
            raise UsageError(f"line {line} is past the end of the file ({len(lines)} lines)")
        return text, ""
    body = lines[line - 1].rstrip("\r\n")
    if col is None:
        col = len(body)
    if col < 0 or col > len(body):
        raise UsageError(f"column {col + 1} is outside line {line} (it has {len(body)} characters)")
    offset = sum(len(x) for x in lines[: line - 1]) + col
    return text[:offset], text[offset:]


# --- post-processing ---------------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t")) if line.strip() else 0


def _width(line: str) -> int:
    stripped = line.lstrip(" \t")
    return len(line[: len(line) - len(stripped)].expandtabs(4))


def _code_part(line: str, language: str) -> str:
    """The line without a trailing comment (roughly), right-stripped."""
    marker = "#" if language in {"python", "ruby", "shell", "toml", "yaml"} else "//"
    cut = line.find(f" {marker}")
    return (line[:cut] if cut != -1 else line).rstrip()


def opens_block(line: str, language: str) -> bool:
    """True when ``line`` ends with something that continues on indented lines."""
    code = _code_part(line, language)
    if not code.strip():
        return False
    if language == "python" and code.endswith(":"):
        return True
    return code.endswith(_OPENERS)


def _balance(text: str) -> int:
    """Open minus closed brackets (strings are not parsed: a heuristic)."""
    return sum(1 for c in text if c in _PAIRS) - sum(1 for c in text if c in _CLOSERS)


def _is_closer_line(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and stripped[0] in _CLOSERS


def _first_code_line(text: str) -> str:
    for line in text.split("\n"):
        if line.strip():
            return line.strip()
    return ""


def _trim_line_overlap(first: str, rest_of_line: str) -> str:
    """Drop the end of ``first`` that repeats the start of the text after the cursor on its line."""
    rest = rest_of_line.strip()
    if not rest:
        return first
    for k in range(min(len(first), len(rest)), 0, -1):
        if first.endswith(rest[:k]):
            tail = rest[:k]
            if k >= 3 or _balance(first) < 0 or not any(c.isalnum() for c in tail):
                if k < 3 and _balance(first) >= 0 and all(c in _CLOSERS for c in tail):
                    return first  # the closers balance brackets the completion opened itself
                return first[: len(first) - k]
            break
    return first


def _indent_style(text: str) -> tuple[str, int]:
    """``("tab", 1)`` or ``("space", width)`` used by the file (spaces, 4 when unknown)."""
    tabs = spaces = 0
    widths: dict[int, int] = {}
    previous = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t"):
            tabs += 1
        elif line.startswith(" "):
            spaces += 1
            width = len(line) - len(line.lstrip(" "))
            step = abs(width - previous)
            if step:
                widths[step] = widths.get(step, 0) + 1
            previous = width
        else:
            previous = 0
    if tabs > spaces:
        return "tab", 1
    unit = max(widths, key=lambda w: widths[w]) if widths else 4
    return "space", unit if unit in (2, 3, 4, 8) else 4


def _reindent(lines: list[str], style: tuple[str, int]) -> list[str]:
    kind, unit = style
    out = []
    for line in lines:
        lead = line[: len(line) - len(line.lstrip(" \t"))]
        rest = line[len(lead):]
        if kind == "space" and "\t" in lead:
            lead = lead.replace("\t", " " * unit)
        elif kind == "tab" and " " in lead:
            width = len(lead.expandtabs(unit if unit > 1 else 4))
            lead = "\t" * (width // 4) + " " * (width % 4)
        out.append(lead + rest)
    return out


def postprocess(raw: str, prefix: str, suffix: str, language: str = "") -> tuple[str, str]:
    """The completion to insert and why it ends there (see the module docstring)."""
    text = raw.replace("\r\n", "\n")
    if not text.strip():
        return "", "empty"
    cur = prefix.rsplit("\n", 1)[-1]
    mid_line = bool(cur.strip())
    rest_of_line = suffix.split("\n", 1)[0]
    after_cursor_line = suffix.split("\n", 1)[1] if "\n" in suffix else ""
    next_suffix_line = _first_code_line(after_cursor_line)
    lines = text.split("\n")
    if not mid_line and not lines[0].strip() and len(lines) > 1:
        # The model ended the (blank) cursor line first: its next code line belongs at the cursor.
        while len(lines) > 1 and not lines[0].strip():
            lines.pop(0)
        lines[0] = lines[0][len(cur):] if lines[0].startswith(cur) else lines[0].lstrip(" \t")
    first_full = cur + lines[0]
    stopped = "end"
    out = [lines[0]]
    if len(lines) > 1:
        if mid_line and not opens_block(first_full, language):
            stopped = "line-end"
        else:
            opener = opens_block(first_full, language) if first_full.strip() else False
            if first_full.strip():
                ref = _width(first_full)
            else:
                following = next((ln for ln in lines[1:] if ln.strip()), "")
                ref = _width(following) if following else 0
                opener = False
            balance = _balance(first_full)
            blank_run = 0
            for line in lines[1:]:
                if not line.strip():
                    blank_run += 1
                    if blank_run >= 2:
                        stopped = "blank-lines"
                        break
                    out.append(line)
                    continue
                width = _width(line)
                if next_suffix_line and line.strip() == next_suffix_line and (
                        len(next_suffix_line) >= 3 or _is_closer_line(line)):
                    stopped = "suffix-overlap"
                    break
                if not first_full.strip() and ref == 0 and not out[0].strip():
                    ref = width
                if opener and width <= _width(first_full):
                    if _is_closer_line(line) and balance > 0:
                        out.append(line)
                    stopped = "block-end"
                    break
                if not opener and width < ref:
                    if _is_closer_line(line) and balance > 0:
                        out.append(line)
                    stopped = "block-end"
                    break
                if not opener and ref == 0 and blank_run and width == 0:
                    stopped = "block-end"
                    break
                if not opener and width == ref and opens_block(line, language) and len(out) > 1 and ref == 0:
                    stopped = "block-end"
                    break
                blank_run = 0
                out.append(line)
                balance += _balance(line)
    while out and not out[-1].strip() and len(out) > 1:
        out.pop()
    out = [ln.rstrip() if i < len(out) - 1 else ln for i, ln in enumerate(out)]
    if len(out) == 1 and rest_of_line.strip():
        trimmed = _trim_line_overlap(out[0], rest_of_line)
        if trimmed != out[0]:
            stopped = "suffix-overlap"
        out[0] = trimmed
    if len(out) > 1:
        out = [out[0], *_reindent(out[1:], _indent_style(prefix + suffix))]
    result = "\n".join(out)
    if rest_of_line.strip() == "" or len(out) > 1:
        result = result.rstrip()
    # A completion that only repeats what follows the cursor adds nothing.
    if result.strip() and suffix.lstrip().startswith(result.strip()):
        return "", "suffix-overlap"
    return result, stopped


def is_finished(raw: str, prefix: str, suffix: str, language: str) -> bool:
    """True once more tokens cannot change the post-processed completion (stop generating)."""
    if "\n" not in raw.rstrip(" \t"):
        return False
    # Only lines before the last (possibly partial) one are decided.
    decided = raw[: raw.rfind("\n")]
    _text, why = postprocess(decided + "\n", prefix, suffix, language)
    if why in {"line-end", "block-end", "suffix-overlap", "blank-lines"}:
        return _text == postprocess(raw, prefix, suffix, language)[0]
    return False


# --- syntax check --------------------------------------------------------------------------------


def check_syntax(path: str, text: str) -> tuple[bool | None, str]:
    """Whether ``text`` parses as the language of ``path``: (True/False, message) or (None, "")."""
    from indexer.languages import detect_language, parser_for

    language = detect_language(path, text)
    if language == "python":
        try:
            ast.parse(text)
        except SyntaxError as exc:
            return False, f"line {exc.lineno}: {exc.msg}"
        except ValueError as exc:  # null bytes
            return False, str(exc)
        return True, ""
    try:
        parser = parser_for(language)
    except Exception as exc:  # a grammar that fails to load must not break completion
        log.info("no parser for %s: %s", language, exc)
        return None, ""
    if parser is None:
        return None, ""
    tree = parser.parse(text.encode("utf-8"))
    root = tree.root_node
    if not root.has_error:
        return True, ""
    node = _first_error(root)
    where = f"line {node.start_point[0] + 1}" if node is not None else "somewhere"
    kind = "missing " + node.type if node is not None and node.is_missing else "syntax error"
    return False, f"{where}: {kind}"


def _first_error(node: Any) -> Any:
    if node.is_error or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing:
            found = _first_error(child)
            if found is not None:
                return found
    return None


# --- context ---------------------------------------------------------------------------------------


def _window(prefix: str, suffix: str, budget: int, count: Callable[[str], int], use_suffix: bool,
            max_before: int | None = None, max_after: int | None = None) -> tuple[str, str]:
    """The largest prefix tail and suffix head (whole lines) that fit ``budget`` tokens."""
    before = prefix.split("\n")
    cursor_line = before.pop()  # the partial line before the cursor, always kept
    after = suffix.split("\n")
    rest = after.pop(0)
    suffix_budget = int(budget * SUFFIX_SHARE) if use_suffix else 0
    used = count(cursor_line + rest)
    kept_after: list[str] = []
    if use_suffix:
        for line in after[: max_after if max_after is not None else len(after)]:
            cost = count(line + "\n")
            if used + cost > suffix_budget + count(rest):
                break
            kept_after.append(line)
            used += cost
    kept_before: list[str] = []
    limit = max_before if max_before is not None else len(before)
    for line in reversed(before[len(before) - limit:] if limit < len(before) else before):
        cost = count(line + "\n")
        if used + cost > budget:
            break
        kept_before.append(line)
        used += cost
    kept_before.reverse()
    new_prefix = "\n".join([*kept_before, cursor_line]) if kept_before else cursor_line
    new_suffix = "\n".join([rest, *kept_after]) if use_suffix else rest
    if use_suffix and kept_after and len(kept_after) < len(after):
        new_suffix += "\n"
    return new_prefix, new_suffix


@dataclass
class _Prepared:
    prompt: str
    prefix: str  # what the model sees before the cursor (for post-processing)
    suffix: str
    context: str
    sources: list[str]
    notes: list[str]
    prompt_tokens: int
    retrieved: BuiltContext | None = None


def _repo_snippets(repo: Path, reader: Any, path: str, line: int, col: int, text: str, budget: int,
                   count: Callable[[str], int], settings: Settings) -> tuple[list[tuple[str, str]], list[str],
                                                                                BuiltContext]:
    """Snippets from other files (raw code) + their labels, and the built context (window prefix/suffix)."""
    from retrieval.context import build_context
    from retrieval.types import Target

    built = build_context(reader, Target(path, line=line, col=col), "", budget, count, repo=repo,
                          settings=settings.retrieval, active_text=text)
    files: list[tuple[str, str]] = []
    labels: list[str] = []
    for item in built.items:
        if item.kind in {"active-file", "repo-map"} or not item.path or item.path == path:
            continue
        files.append((item.path, item.raw))
        labels.append(item.label)
    return files, labels, built


def prepare_prompt(repo: Path, path: str, text: str, line: int, col: int, *, family: ModelFamily,
                   count: Callable[[str], int], budget: int, context: str, settings: Settings,
                   reader: Any = None, open_reader: bool = True) -> _Prepared:
    """The completion prompt for ``context`` mode, with what it contains."""
    if context not in CONTEXT_MODES:
        raise UsageError(f"unknown context '{context}'", hint="use repo, file or none")
    full_prefix, full_suffix = split_at(text, line, col)
    use_suffix = family.fim is not None
    notes: list[str] = []
    files: list[tuple[str, str]] = []
    sources: list[str] = []
    prefix = suffix = ""
    retrieved: BuiltContext | None = None
    used = context
    if context == "repo":
        try:
            if reader is None and open_reader:
                from indexer.reader import IndexReader

                reader = IndexReader.open(repo, settings.index)
            if reader is None:
                raise IndexMissingError("no index")
            files, sources, retrieved = _repo_snippets(repo, reader, path, line, col, text, budget, count,
                                                       settings)
            prefix, suffix = retrieved.prefix, retrieved.suffix
            if not prefix and not suffix:
                prefix, suffix = _window(full_prefix, full_suffix, budget // 2, count, use_suffix)
        except IndexMissingError:
            notes.append("no index for this repository: used the active file only (run `repo-assistant index`)")
            used = "file"
        except AssistantError as exc:
            notes.append(f"repository context unavailable ({exc.one_line()}): used the active file only")
            used = "file"
        except ImportError as exc:
            notes.append(f"repository context unavailable ({exc}): used the active file only")
            used = "file"
    if used == "file":
        prefix, suffix = _window(full_prefix, full_suffix, budget, count, use_suffix)
    elif used == "none":
        prefix, suffix = _window(full_prefix, full_suffix, budget, count, use_suffix,
                                 LOCAL_LINES_BEFORE, LOCAL_LINES_AFTER)
    if not use_suffix:
        suffix_for_prompt = ""
    else:
        suffix_for_prompt = suffix
    prompt = build_completion_prompt(family, prefix=prefix, suffix=suffix_for_prompt, path=path,
                                     context_files=files, repo_name=repo.name)
    tokens = count(prompt)
    while files and tokens > budget:
        files.pop()
        sources.pop()
        prompt = build_completion_prompt(family, prefix=prefix, suffix=suffix_for_prompt, path=path,
                                         context_files=files, repo_name=repo.name)
        tokens = count(prompt)
    # Post-processing sees the whole file around the cursor, not just the prompt's window.
    return _Prepared(prompt, full_prefix, full_suffix, used, sources, notes, tokens, retrieved)


def complete(
    repo: Path,
    path: str,
    line: int,
    col: int | None,
    *,
    settings: Settings,
    backend: Backend,
    reader: Any = None,
    context: str = "repo",
    cancel: threading.Event | None = None,
    seed: int | None = None,
    max_new_tokens: int | None = None,
    text: str | None = None,
) -> CompletionResult:
    """Complete the code at ``path:line:col`` (line 1-based, col 0-based; None: end of line).

    ``text`` is the editor's (possibly unsaved) content; by default the file is read.
    """
    from assistant.models.families import ModelFamily as _Family

    started = time.perf_counter()
    repo = repo.resolve()
    full = (repo / path).resolve()
    if not full.is_relative_to(repo):
        raise UsageError(f"{path} is outside the repository {repo}")
    if text is None:
        if not full.is_file():
            raise UsageError(f"no such file: {path}")
        try:
            text = full.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path} is not UTF-8 text") from exc
    rel = full.relative_to(repo).as_posix()
    family: ModelFamily = getattr(backend, "family", None) or _Family(name="generic",
                                                                      context_window=backend.context_window)
    new_tokens = max_new_tokens or settings.model.completion_tokens
    from assistant.budget import task_budget

    budget = task_budget(settings, "complete", window=backend.context_window, device=backend.device,
                         answer_tokens=new_tokens).tokens
    lines_count = len(text.splitlines())
    col0 = col if col is not None else None
    prepared = prepare_prompt(repo, rel, text, line, col0 if col0 is not None else _eol(text, line, lines_count),
                              family=family, count=backend.count_tokens, budget=budget, context=context,
                              settings=settings, reader=reader)
    context_s = time.perf_counter() - started
    from indexer.languages import detect_language

    language = detect_language(rel, text)
    params = GenerationParams(
        max_new_tokens=new_tokens,
        temperature=min(settings.model.temperature, family.completion_temperature),
        top_p=settings.model.top_p,
        stop=[],
        seed=seed,
    )
    # Prefix-only prompts that end in indentation tokenize badly: let the model write the
    # indentation itself, and take it off again afterwards.
    cursor_line = prepared.prefix.rsplit("\n", 1)[-1]
    heal = cursor_line if (family.fim is None and cursor_line and not cursor_line.strip()
                           and prepared.prompt.endswith(cursor_line)) else ""
    prompt = prepared.prompt[: len(prepared.prompt) - len(heal)] if heal else prepared.prompt
    stop_early = threading.Event()
    user_cancel = cancel or threading.Event()
    watcher = _Link(user_cancel, stop_early)
    raw = ""
    gen_started = time.perf_counter()
    try:
        for delta in backend.stream(prompt, params, watcher.event):
            raw += delta
            if "\n" in delta and is_finished(_unheal(raw, heal), prepared.prefix, prepared.suffix, language):
                stop_early.set()
                break
            if user_cancel.is_set():
                break
    finally:
        watcher.close()
    generate_s = time.perf_counter() - gen_started
    stats = backend.last_stats
    completion, stopped_by = postprocess(_unheal(raw, heal), prepared.prefix, prepared.suffix, language)
    if user_cancel.is_set():
        stopped_by = "cancelled"
    elif stopped_by == "end":
        stopped_by = "length" if stats.finish_reason == "length" and not stop_early.is_set() else "model-stop"
    parsed_before, _ = check_syntax(rel, text)
    parses, error = check_syntax(rel, prepared.prefix + completion + prepared.suffix)
    total = time.perf_counter() - started
    return CompletionResult(
        path=rel, line=line, col=col0 if col0 is not None else _eol(text, line, lines_count), text=completion,
        raw=raw, mode=family.completion_mode, context=prepared.context, stopped_by=stopped_by, parses=parses,
        parsed_before=parsed_before, syntax_error=error, prompt_tokens=prepared.prompt_tokens, budget=budget,
        sources=prepared.sources, notes=prepared.notes, stats=stats, model=backend.model_name,
        retrieved=prepared.retrieved,
        timings={"context_s": round(context_s, 3), "generate_s": round(generate_s, 3),
                 "time_to_first_token_s": round(stats.time_to_first_token_s, 3),
                 "tokens_per_s": round(stats.tokens_per_s, 2), "total_s": round(total, 3)},
    )


def _unheal(raw: str, heal: str) -> str:
    """Take the cursor line's indentation (left out of the prompt) off the model's output."""
    if not heal:
        return raw
    if raw.startswith(heal):
        return raw[len(heal):]
    first, sep, rest = raw.partition("\n")
    if first.strip():
        return first.lstrip(" \t") + sep + rest
    return raw


def _eol(text: str, line: int, lines_count: int) -> int:
    if line > lines_count:
        return 0
    return len(text.splitlines()[line - 1].rstrip("\r\n"))


class _Link:
    """One event set when either the user cancels or the completion is known to be finished."""

    def __init__(self, *sources: threading.Event) -> None:
        self.event = threading.Event()
        self._sources = sources
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="completion-cancel")
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if any(s.is_set() for s in self._sources):
                self.event.set()
                return

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=1)


def context_labels(items: Sequence[Any]) -> list[str]:
    """``path:start-end`` for context items (for display)."""
    return [f"{i.path}:{i.start_line}-{i.end_line}" for i in items if getattr(i, "path", "")]
