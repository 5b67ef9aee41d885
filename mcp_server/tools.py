"""The MCP tools: parse an agent's arguments, call the feature service, format the answer.

Each tool returns a ``CallToolResult`` with compact text for the model (one line per
hit, ``path:start-end`` first, so an agent can open exactly those lines) and the same
facts as structured content (:mod:`mcp_server.schemas`).  Anything the agent got wrong,
or a state it can fix (no index yet), is a :class:`ToolError` with one line that says
what to do; the server never crashes on input.

Paths in and out are repository-relative.  A path is accepted only if it resolves
inside the repository and the index holds it, so nothing outside the repository (and
no ignored or secret file) is ever read; text comes from the index, where secrets are
already redacted, and the one tool that reads files from disk (``context``) gets its
text redacted the same way by retrieval (``retrieval.context.FileLines``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from base.errors import AssistantError
from mcp_server.schemas import (
    ContextItemOut,
    ContextOut,
    DefinitionOut,
    DefinitionsOut,
    Freshness,
    LocalizedFileOut,
    LocalizeOut,
    OutlineOut,
    ReferenceOut,
    ReferencesOut,
    RepoMapOut,
    SearchHitOut,
    SearchOut,
)

if TYPE_CHECKING:
    from assistant.session import Session
    from indexer.reader import IndexReader
    from indexer.types import SymbolDef
    from retrieval.types import BuiltContext, ContextItem, Localization, SearchHit, Target

MAX_K = 100
MODES = ("hybrid", "bm25", "vector")
SNIPPET_WIDTH = 100
DEFINITION_SOURCE_LINES = 60
MIN_BUDGET, MAX_BUDGET = 64, 200_000
DEFAULT_MAP_BUDGET = 1_024


def result(text: str, structured: BaseModel) -> CallToolResult:
    """The compact text for the model plus the structured content for the client."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=structured.model_dump(mode="json"))


def snippet(text: str, width: int = SNIPPET_WIDTH) -> str:
    """The first meaningful line of a chunk (comments, docstring quotes and decorators skipped)."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "//", '"""', "'''", "@")):
            return stripped if len(stripped) <= width else stripped[: width - 1] + "…"
    return text.strip().splitlines()[0][:width] if text.strip() else ""


def _check_k(k: int, name: str = "k") -> int:
    if not 1 <= k <= MAX_K:
        raise ToolError(f"{name} must be between 1 and {MAX_K}, got {k}")
    return k


def _check_budget(budget: int) -> int:
    if not MIN_BUDGET <= budget <= MAX_BUDGET:
        raise ToolError(f"budget must be between {MIN_BUDGET} and {MAX_BUDGET} tokens, got {budget}")
    return budget


class RepoTools:
    """The tool implementations over one :class:`Session` (one repository)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------ shared

    def reader(self) -> IndexReader:
        """The open index, or a one-line tool error saying how to create it."""
        try:
            return self.session.reader()
        except AssistantError as exc:
            raise ToolError(exc.one_line()) from exc

    def freshness(self) -> Freshness:
        watcher = self.session.watcher
        return Freshness(watching=bool(watcher and watcher.running), refreshes=watcher.refreshes if watcher else 0)

    def repo_path(self, text: str, *, what: str = "path") -> str:
        """``text`` as an indexed repository path; anything else is a one-line tool error.

        Absolute paths are accepted when they point inside the repository; ``..`` that
        leaves it, ignored, secret and binary files are refused without being read.
        """
        raw = text.strip().strip("`").strip()
        if not raw:
            raise ToolError(f"{what} is empty: give a path relative to the repository root")
        repo = self.session.repo
        candidate = Path(raw).expanduser()
        full = (candidate if candidate.is_absolute() else repo / candidate).resolve()
        if not full.is_relative_to(repo):
            raise ToolError(f"{raw} is outside the repository; paths are relative to {repo.name}/")
        rel = full.relative_to(repo).as_posix()
        reader = self.reader()
        if rel not in set(reader.files()):
            if full.is_file():
                raise ToolError(f"{rel} is not indexed (ignored, secret, binary or too large); "
                                "search for what you need instead")
            raise ToolError(f"no file {rel} in the repository")
        return rel

    def _hit(self, hit: SearchHit) -> SearchHitOut:
        c = hit.chunk
        return SearchHitOut(path=c.path, start_line=c.start_line, end_line=c.end_line, symbol=c.symbol,
                            kind=c.kind, language=c.language, score=round(hit.score, 6),
                            found_by=dict(hit.sources), snippet=snippet(c.text))

    # ------------------------------------------------------------ feature calls (the session's, one helper each)

    def _search(self, query: str, k: int, mode: str | None, path_glob: str | None,
                language: str | None) -> list[SearchHit]:
        self.reader()  # a missing index is a one-line tool error before anything else
        return self.session.search(query, k, mode=mode, path_glob=path_glob, language=language)

    def _localize(self, issue_text: str, k: int) -> Localization:
        self.reader()
        return self.session.localize(issue_text, k)

    def _context(self, target: Target, query: str, budget: int) -> BuiltContext:
        self.reader()
        return self.session.context(target, query, budget=budget, pinned=(), rules=False)  # agents read their own

    # ------------------------------------------------------------ tools

    def search(self, query: str, k: int = 10, mode: str | None = None, path_glob: str | None = None,
               language: str | None = None) -> CallToolResult:
        from retrieval.search import effective_mode

        query = query.strip()
        if not query:
            raise ToolError("query is empty: give words, an identifier or an error message")
        _check_k(k)
        if mode is not None and mode not in MODES:
            raise ToolError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        reader = self.reader()
        run_mode, note = effective_mode(reader, mode or self.session.settings.retrieval.mode)
        try:
            hits = self._search(query, k, mode, path_glob or None, language or None)
        except AssistantError as exc:
            raise ToolError(exc.one_line()) from exc
        lines = [f"{len(hits)} results for {query!r} ({run_mode})" + (f"; note: {note}" if note else "")]
        for rank, h in enumerate(hits, start=1):
            lines.append(f"{rank}. {h.path}:{h.start_line}-{h.end_line} {h.symbol or '(' + h.chunk.kind + ')'}"
                         f" [{h.score:.4f}]")
            lines.append(f"   {snippet(h.chunk.text)}")
        if not hits:
            lines.append("No chunk matches; try other words or mode='bm25' for exact identifiers.")
        out = SearchOut(query=query, mode=run_mode, note=note or "", hits=[self._hit(h) for h in hits],
                        freshness=self.freshness())
        return result("\n".join(lines), out)

    def localize(self, issue_text: str, k: int = 10) -> CallToolResult:
        if not issue_text.strip():
            raise ToolError("issue_text is empty: paste the issue's title and body")
        _check_k(k)
        try:
            found = self._localize(issue_text, k)
        except AssistantError as exc:
            raise ToolError(exc.one_line()) from exc
        files: list[LocalizedFileOut] = []
        lines = [f"{len(found.files)} files most likely involved, best first:"]
        for rank, f in enumerate(found.files, start=1):
            why = sorted({source for h in f.chunks for source in h.sources})
            files.append(LocalizedFileOut(path=f.path, score=round(f.score, 6), why=why,
                                          chunks=[self._hit(h) for h in f.chunks]))
            lines.append(f"{rank}. {f.path} [{f.score:.4f}]" + (f" found by {', '.join(why)}" if why else ""))
            for h in f.chunks:
                lines.append(f"   {h.start_line}-{h.end_line} {h.symbol or '(' + h.chunk.kind + ')'}: "
                             f"{snippet(h.chunk.text, 80)}")
        if not found.files:
            lines.append("No file matches this issue.")
        return result("\n".join(lines), LocalizeOut(files=files, freshness=self.freshness()))

    def context(self, target: str, query: str = "", budget: int | None = None) -> CallToolResult:
        from retrieval.types import Target

        path, start, end = self._parse_target(target)
        budget = _check_budget(budget if budget is not None else self.session.settings.retrieval.budget)
        try:
            built = self._context(Target(path, start, None, end), query.strip(), budget)
        except AssistantError as exc:
            raise ToolError(exc.one_line()) from exc
        text = built.text  # read from disk and redacted by retrieval, like the index
        where = f"{path}:{start}" + (f"-{end}" if end and end != start else "") if start else path
        lines = [f"Context for {where}" + (f" (query {query.strip()!r})" if query.strip() else "")
                 + f": {built.tokens_used}/{budget} tokens ({built.counter or 'estimated'})", "Items:"]
        lines += [f"  {_item_line(i)}" for i in built.items]
        if built.dropped:
            lines.append(f"Left out for the budget ({len(built.dropped)}):")
            lines += [f"  {_item_line(i)}" for i in built.dropped[:20]]
        lines += ["", text]
        out = ContextOut(target=where, query=query.strip(), budget=budget, tokens_used=built.tokens_used,
                         counter=built.counter or "estimate", items=[_item(i) for i in built.items],
                         dropped=[_item(i) for i in built.dropped], text=text)
        return result("\n".join(lines), out)

    def _parse_target(self, target: str) -> tuple[str, int | None, int | None]:
        """``path``, ``path:line`` or ``path:start-end`` → (indexed path, start, end)."""
        text = target.strip()
        path_text, start, end = text, None, None
        head, sep, tail = text.rpartition(":")
        if sep and tail:
            first, dash, last = tail.partition("-")
            if first.isdigit() and (not dash or last.isdigit()):
                path_text, start = head, int(first)
                end = int(last) if dash else None
            elif tail[:1].isdigit():  # "file.py:12x"
                raise ToolError(f"bad target {target!r}: use path, path:line or path:start-end")
        path = self.repo_path(path_text, what="target")
        if start is not None:
            if start < 1 or (end is not None and end < start):
                raise ToolError(f"bad line range in {target!r}: lines start at 1 and end after they start")
            try:
                count = len(self.session.read_file(path).splitlines()) or 1
            except AssistantError as exc:
                raise ToolError(exc.one_line()) from exc
            if start > count:
                raise ToolError(f"{path} has {count} lines; line {start} does not exist")
            end = min(end, count) if end is not None else None
        return path, start, end

    def definition(self, symbol: str) -> CallToolResult:
        from retrieval.symbols import clean_symbol_name, find_definitions

        name = clean_symbol_name(symbol)
        if not name:
            raise ToolError("symbol is empty: give a name such as total or Order.total")
        reader = self.reader()
        found = find_definitions(reader, name)
        defs = [_definition(d) for d in found[:MAX_K]]
        source = _source_of(reader, found[0]) if found else ""
        if not found:
            text = f"No definition of {name!r} in the index; try search({name!r})."
        else:
            rows = [f"{d.path}:{d.start_line}-{d.end_line} {d.qualified_name}: {_signature_line(d)}"
                    for d in found[:MAX_K]]
            text = "\n".join([f"{len(found)} definition(s) of {name!r}, best first:", *rows, "",
                              f"{found[0].path}:{found[0].start_line}-{found[0].end_line}", source])
        return result(text, DefinitionsOut(symbol=name, definitions=defs, source=source))

    def references(self, symbol: str, limit: int = 50) -> CallToolResult:
        from retrieval.symbols import clean_symbol_name, find_references

        name = clean_symbol_name(symbol)
        if not name:
            raise ToolError("symbol is empty: give a name such as total or Order.total")
        _check_k(limit, "limit")
        reader = self.reader()
        refs = find_references(reader.symbols(), name, reader.chunks_for_file, limit=limit + 1)
        truncated = len(refs) > limit
        refs = refs[:limit]
        lines = [f"{len(refs)}{'+' if truncated else ''} reference(s) to {name!r}:"]
        current = ""
        for r in refs:
            if r.path != current:
                current = r.path
                lines.append(r.path)
            lines.append(f"  {r.line}: {snippet(r.text)}" + (f"  (in {r.enclosing})" if r.enclosing else ""))
        if not refs:
            lines = [f"No reference to {name!r} in the index."]
        out = ReferencesOut(symbol=name, truncated=truncated,
                            references=[ReferenceOut(path=r.path, line=r.line, text=r.text,
                                                     enclosing=r.enclosing) for r in refs])
        return result("\n".join(lines), out)

    def outline(self, path: str) -> CallToolResult:
        from retrieval.symbols import outline

        rel = self.repo_path(path)
        symbols = self.reader().symbols()
        try:
            defs = outline(symbols, rel)
        except KeyError:
            defs = []
        language = symbols[rel].language if rel in symbols else ""
        lines = [f"{rel} ({language or 'no symbols'}): {len(defs)} definition(s)"]
        for d in defs:
            indent = "  " * d.qualified_name.count(".")
            lines.append(f"{d.start_line:>5}-{d.end_line:<5} {indent}{_signature_line(d)}")
        return result("\n".join(lines), OutlineOut(path=rel, language=language,
                                                   definitions=[_definition(d) for d in defs]))

    def repo_map(self, budget: int = DEFAULT_MAP_BUDGET, focus_files: Sequence[str] = (),
                 focus_symbols: Sequence[str] = ()) -> CallToolResult:
        from base.tokens import estimate_tokens
        from retrieval.repo_map import build_repo_map

        _check_budget(budget)
        files = [self.repo_path(p, what="focus file") for p in focus_files]
        names = [n.strip() for n in focus_symbols if n.strip()]
        reader = self.reader()
        text = build_repo_map(reader, budget, estimate_tokens, files, names, cache_key=str(self.session.repo))
        tokens = estimate_tokens(text) if text else 0
        return result(text or "The index holds no definitions.", RepoMapOut(budget=budget, tokens=tokens, map=text))


# --------------------------------------------------------------------------- formatting helpers


def _item(item: ContextItem) -> ContextItemOut:
    return ContextItemOut(path=item.path, start_line=item.start_line, end_line=item.end_line, kind=item.kind,
                          reason=item.reason, score=round(item.score, 6), tokens=item.tokens)


def _item_line(item: ContextItem) -> str:
    where = f"{item.path}:{item.start_line}-{item.end_line}" if item.path else "(repository map)"
    return f"{item.kind} {where} — {item.reason} ({item.tokens} tokens)"


def _signature_line(d: SymbolDef) -> str:
    """``class Order:`` or ``method total: def total(self) -> Decimal:`` on one line."""
    signature = " ".join(d.signature.split()) or d.qualified_name
    return signature if d.kind in signature.split()[:2] else f"{d.kind} {signature}"


def _definition(d: SymbolDef) -> DefinitionOut:
    return DefinitionOut(name=d.name, qualified_name=d.qualified_name, kind=d.kind, path=d.path,
                         start_line=d.start_line, end_line=d.end_line, signature=d.signature)


def _source_of(reader: IndexReader, d: SymbolDef) -> str:
    """The definition's lines as indexed (redacted), numbered, at most ``DEFINITION_SOURCE_LINES``."""
    by_line: dict[int, str] = {}
    for chunk in reader.chunks_for_file(d.path):
        if chunk.end_line < d.start_line or chunk.start_line > d.end_line:
            continue
        for offset, text in enumerate(chunk.text.splitlines()):
            by_line.setdefault(chunk.start_line + offset, text)
    last = min(d.end_line, d.start_line + DEFINITION_SOURCE_LINES - 1)
    rows = [f"{n:>5} {by_line.get(n, '')}" for n in range(d.start_line, last + 1)]
    if last < d.end_line:
        rows.append(f"      … {d.end_line - last} more lines ({d.path}:{last + 1}-{d.end_line})")
    return "\n".join(rows)
