"""Explanations and questions: a Markdown answer streamed from retrieved context, with citations.

Both build their context with the retriever (definitions the code uses, search
hits for the question, the repo map) within a budget that follows the model (a
CPU model gets a small prompt: its first-token time grows fast with length),
render each snippet under a ``path:start-end`` heading the model is asked to
cite, and return an :class:`Answer` whose ``citations`` are known before the
first token arrives, so a UI can link them while the text streams.
"""

from __future__ import annotations

import ast
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.models.base import Backend, ChatMessage, GenerationParams, GenerationStats
from assistant.prompts import Snippet, ask_messages, explain_messages, render_context
from base.config import Settings
from base.errors import AssistantError, IndexMissingError, UsageError

log = logging.getLogger(__name__)

_CITE = re.compile(r"([\w./-]+\.\w+):(\d+)(?:-(\d+))?")


@dataclass(frozen=True)
class Citation:
    """A span of a file the answer is based on."""

    path: str
    start_line: int
    end_line: int

    @property
    def label(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"


@dataclass
class Answer:
    """A streaming answer: iterate it for Markdown deltas; ``text`` and ``stats`` fill in as it goes."""

    messages: list[ChatMessage]
    citations: list[Citation]  # the context the model was given, in prompt order
    backend: Backend
    params: GenerationParams
    cancel: threading.Event | None = None
    notes: list[str] = field(default_factory=list)
    context_tokens: int = 0
    text: str = ""
    stats: GenerationStats | None = None

    def __iter__(self) -> Iterator[str]:
        for delta in self.backend.stream_chat(self.messages, self.params, self.cancel):
            self.text += delta
            yield delta
        self.stats = self.backend.last_stats

    def cited(self) -> list[Citation]:
        """The citations the answer text itself makes (those of the context it names)."""
        found: list[Citation] = []
        for match in _CITE.finditer(self.text):
            path, start = match.group(1), int(match.group(2))
            end = int(match.group(3) or start)
            for c in self.citations:
                if c.path.endswith(path) and c.start_line <= end and start <= c.end_line and c not in found:
                    found.append(c)
        return found


def answer_budget(settings: Settings, backend: Backend, reserved: int) -> int:
    """Tokens the context may take beside ``reserved`` prompt tokens (see :mod:`assistant.budget`)."""
    from assistant.budget import context_budget

    budget = context_budget(settings, window=backend.context_window, device=backend.device, prompt_tokens=reserved)
    return max(256, budget.tokens)


def _language(path: str) -> str:
    from indexer.languages import detect_language

    language = detect_language(path)
    return "" if language == "text" else language


def _open_reader(repo: Path, settings: Settings, reader: Any, notes: list[str]) -> Any:
    if reader is not None:
        return reader
    try:
        from indexer.reader import IndexReader

        return IndexReader.open(repo, settings.index)
    except IndexMissingError:
        notes.append("no index for this repository: the answer uses only the code named on the command line "
                     "(run `repo-assistant index`)")
        return None


def _snippets_from_context(repo: Path, reader: Any, target: Any, query: str, budget: int, backend: Backend,
                           settings: Settings, notes: list[str]) -> list[Snippet]:
    from retrieval.context import build_context

    try:
        built = build_context(reader, target, query, budget, backend.count_tokens, repo=repo,
                              settings=settings.retrieval)
    except AssistantError as exc:
        notes.append(f"retrieval failed: {exc.one_line()}")
        return []
    snippets = []
    for item in built.items:
        if not item.path:  # the repo map: context without a citable span
            snippets.append(Snippet("repository map", 0, 0, _strip_header(item.text), item.reason))
            continue
        code = _strip_numbers(item.text)
        snippets.append(Snippet(item.path, item.start_line, item.end_line, code, item.reason, _language(item.path)))
    return snippets


_NUMBERED = re.compile(r"^ *\d+ ?")


def _strip_header(text: str) -> str:
    lines = text.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("### ") else lines)


def _strip_numbers(text: str) -> str:
    return "\n".join(_NUMBERED.sub("", ln, count=1) for ln in _strip_header(text).splitlines())


def _fit(snippets: list[Snippet], budget: int, backend: Backend) -> list[Snippet]:
    """Drop snippets from the end until the rendered context fits ``budget``."""
    kept = list(snippets)
    while kept and backend.count_tokens(render_context(kept)) > budget:
        kept.pop()
    return kept


def _citations(snippets: list[Snippet]) -> list[Citation]:
    return [Citation(s.path, s.start_line, s.end_line) for s in snippets if s.start_line > 0]


def _params(settings: Settings, max_new_tokens: int | None) -> GenerationParams:
    return GenerationParams(max_new_tokens=max_new_tokens or settings.model.max_new_tokens,
                            temperature=settings.model.temperature, top_p=settings.model.top_p)


def ask(repo: Path, question: str, *, settings: Settings, backend: Backend, reader: Any = None,
        target_path: str | None = None, cancel: threading.Event | None = None,
        max_new_tokens: int | None = None) -> Answer:
    """Answer a question about the repository from retrieved context (streams when iterated)."""
    if not question.strip():
        raise UsageError("the question is empty")
    repo = repo.resolve()
    notes: list[str] = []
    question_tokens = backend.count_tokens(question)
    budget = answer_budget(settings, backend, question_tokens + 200)
    reader = _open_reader(repo, settings, reader, notes)
    snippets: list[Snippet] = []
    if reader is not None:
        from retrieval.types import Target

        target = Target(target_path) if target_path else None
        if target is None:
            snippets = _search_snippets(reader, question, budget, backend, settings)
        else:
            snippets = _snippets_from_context(repo, reader, target, question, budget, backend, settings, notes)
    snippets = _fit(snippets, budget, backend)
    context = render_context(snippets)
    messages = ask_messages(repo.name, question, context)
    return Answer(messages, _citations(snippets), backend, _params(settings, max_new_tokens), cancel, notes,
                  backend.count_tokens(context))


def _search_snippets(reader: Any, question: str, budget: int, backend: Backend, settings: Settings) -> list[Snippet]:
    """Search hits for a question that is not about one place (no active file)."""
    from retrieval.search import search

    mode = settings.retrieval.mode if reader.has_vectors else "bm25"
    try:
        hits = search(reader, question, settings.retrieval.top_k, mode=mode, settings=settings.retrieval)
    except AssistantError:
        raise
    except Exception as exc:  # the vector side failed (embedder missing...): BM25 still answers
        log.warning("search failed (%s); using BM25", exc)
        hits = search(reader, question, settings.retrieval.top_k, mode="bm25", settings=settings.retrieval)
    snippets: list[Snippet] = []
    used = 0
    for hit in hits:
        chunk = hit.chunk
        snippet = Snippet(chunk.path, chunk.start_line, chunk.end_line, chunk.text,
                          f"search hit{' for ' + chunk.symbol if chunk.symbol else ''}", _language(chunk.path))
        cost = backend.count_tokens(render_context([snippet]))
        if used + cost > budget:
            continue
        snippets.append(snippet)
        used += cost
    return snippets


# --- explain ------------------------------------------------------------------------------------


def parse_target(spec: str) -> tuple[str, str | None, int | None, int | None]:
    """``FILE``, ``FILE:SYMBOL``, ``FILE:LINE`` or ``FILE:START-END`` → (path, symbol, start, end)."""
    path, sep, rest = spec.partition(":")
    if not sep or not rest:
        return spec, None, None, None
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", rest)
    if match:
        start = int(match.group(1))
        end = int(match.group(2) or start)
        if end < start:
            raise UsageError(f"bad line range {rest}: the end is before the start")
        return path, None, start, end
    return path, rest, None, None


def find_symbol_span(text: str, path: str, symbol: str, reader: Any = None) -> tuple[int, int]:
    """The lines of ``symbol``'s definition in ``path`` (index first, then the file itself)."""
    wanted = symbol.strip().strip("`").removesuffix("()")
    if reader is not None:
        file_symbols = reader.symbols().get(path)
        if file_symbols is not None:
            for rank in range(3):
                for d in file_symbols.definitions:
                    if (rank == 0 and d.qualified_name == wanted) or (rank == 1 and d.name == wanted) or (
                            rank == 2 and d.qualified_name.endswith("." + wanted)):
                        return d.start_line, d.end_line
    if path.endswith((".py", ".pyi")):
        span = _python_symbol(text, wanted)
        if span:
            return span
    span = _generic_symbol(text, wanted.rsplit(".", 1)[-1])
    if span:
        return span
    raise UsageError(f"no definition of {symbol!r} in {path}")


def _python_symbol(text: str, wanted: str) -> tuple[int, int] | None:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None

    def visit(nodes: list[ast.stmt], scope: str) -> tuple[int, int] | None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{scope}.{node.name}" if scope else node.name
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if name == wanted or node.name == wanted:
                    return start, node.end_lineno or node.lineno
                if isinstance(node, ast.ClassDef):
                    found = visit(node.body, name)
                    if found:
                        return found
        return None

    return visit(tree.body, "")


def _generic_symbol(text: str, name: str) -> tuple[int, int] | None:
    """A definition line mentioning ``name`` after a keyword, to its closing brace or dedent."""
    pattern = re.compile(
        rf"^\s*(?:export\s+)?(?:pub\s+)?(?:async\s+)?(?:def|class|function|func|fn|struct|interface|enum|type|"
        rf"impl|trait|module|const|let|var)\b[^\n]*\b{re.escape(name)}\b")
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if pattern.match(line):
            return index + 1, _block_end(lines, index)
    return None


def _block_end(lines: list[str], start: int) -> int:
    depth = 0
    seen_brace = False
    indent = len(lines[start]) - len(lines[start].lstrip())
    for index in range(start, len(lines)):
        line = lines[index]
        depth += line.count("{") - line.count("}")
        seen_brace = seen_brace or "{" in line
        if seen_brace and depth <= 0:
            return index + 1
        if not seen_brace and index > start and line.strip() and len(line) - len(line.lstrip()) <= indent:
            return index
    return len(lines)


def explain(repo: Path, spec: str, *, settings: Settings, backend: Backend, reader: Any = None,
            cancel: threading.Event | None = None, max_new_tokens: int | None = None) -> Answer:
    """Explain ``FILE``, ``FILE:SYMBOL`` or ``FILE:START-END`` (streams when iterated)."""
    repo = repo.resolve()
    path, symbol, start, end = parse_target(spec)
    full = (repo / path).resolve()
    if not full.is_relative_to(repo) or not full.is_file():
        raise UsageError(f"no such file in the repository: {path}")
    rel = full.relative_to(repo).as_posix()
    try:
        text = full.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{rel} is not UTF-8 text") from exc
    lines = text.splitlines()
    notes: list[str] = []
    reader = _open_reader(repo, settings, reader, notes)
    if symbol:
        start, end = find_symbol_span(text, rel, symbol, reader)
    if start is None or end is None:
        start, end = 1, max(1, len(lines))
    if start < 1 or start > max(1, len(lines)):
        raise UsageError(f"line {start} is outside {rel} ({len(lines)} lines)")
    end = min(end, len(lines))
    budget = answer_budget(settings, backend, 200)
    code = "\n".join(lines[start - 1:end])
    code_budget = budget // 2
    if backend.count_tokens(code) > code_budget:
        kept: list[str] = []
        for line in lines[start - 1:end]:
            if backend.count_tokens("\n".join([*kept, line])) > code_budget:
                break
            kept.append(line)
        end = start + len(kept) - 1
        code = "\n".join(kept)
        notes.append(f"the code was cut to lines {start}-{end} to fit the model's context")
    label = f"{rel}:{symbol}" if symbol else f"{rel}:{start}-{end}"
    snippets: list[Snippet] = []
    if reader is not None:
        from retrieval.types import Target

        query = symbol or ""
        snippets = _snippets_from_context(repo, reader, Target(rel, line=start, end_line=end), query,
                                          budget - backend.count_tokens(code), backend, settings, notes)
        # The target itself is shown separately; keep only what surrounds it.
        snippets = [s for s in snippets if not (s.path == rel and s.start_line <= end and start <= s.end_line)]
    snippets = _fit(snippets, budget - backend.count_tokens(code), backend)
    context = render_context(snippets)
    messages = explain_messages(repo.name, label, code, _language(rel), context)
    citations = [Citation(rel, start, end), *_citations(snippets)]
    return Answer(messages, citations, backend, _params(settings, max_new_tokens), cancel, notes,
                  backend.count_tokens(context) + backend.count_tokens(code))
