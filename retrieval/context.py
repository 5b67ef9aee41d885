"""Assemble the model's context for a place in the repository, under a hard token budget.

Priorities, highest first:

1. the active-file window around the cursor (prefix and suffix, at most
   ``WINDOW_SHARE`` of the budget; the whole file when it is small),
   then, when asked for (questions, explanations), the project's rules files
   (``AGENTS.md``, ``CLAUDE.md``... from the root down to the active file's folder,
   :mod:`retrieval.rules`), placed first in the prompt,
2. files the user pinned,
3. definitions of the names used at the cursor (:mod:`retrieval.definitions`);
   with a query they may fill at most ``DEFINITIONS_QUOTA`` of the budget, so that
4. search hits for the query (or, without a query, code similar to the lines at
   the cursor) still find room,
5. the repo map, in whatever room is left (at most ``retrieval.repo_map_tokens``).

Candidates are taken in that order while they fit; a span already shown is not
shown twice (only the lines it adds are), touching spans of one file are merged,
and everything that did not fit is returned in ``dropped`` with its score.  The
budget is checked on the final rendered text with the caller's token counter, and
items are removed from the lowest priority up until it holds, so it is never
exceeded whatever the tokenizer does at block boundaries.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from base.config import RetrievalSettings
from base.errors import AssistantError, RetrievalError
from base.lru import Lru
from indexer.secrets import redact
from indexer.tokenize import code_tokens
from indexer.types import FileSymbols, SymbolDef
from retrieval import render
from retrieval.definitions import DefinitionCandidate, definitions_at, names_near
from retrieval.query import analyze_query
from retrieval.repo_map import IndexedSymbols, build_repo_map
from retrieval.rules import RULES_REASON, project_rules
from retrieval.search import Reader, SymbolIndex, search
from retrieval.spans import Span, merge_spans, subtract_spans
from retrieval.types import BuiltContext, ContextItem, SearchHit, Target
from retrieval.window import Window, cursor_window

log = logging.getLogger(__name__)

WINDOW_SHARE = 0.5
MIN_REPO_MAP_TOKENS = 48
DEFINITION_SHARE = 0.25  # a definition costing more than this share of the budget is shown as an outline
DEFINITIONS_QUOTA = 0.35  # share of the budget definitions may fill when there is a query
SIMILAR_QUERY_LINES = 12  # lines around the cursor used as the query when there is none
CALIBRATION_LINES = 150  # lines each side of the cursor counted once to calibrate the window search
PRIORITY = {"active-file": 0, "rules": 1, "pinned": 2, "definition": 3, "search-hit": 4, "repo-map": 5}

TokenCounter = Callable[[str], int]
COUNT_MEMO_SIZE = 2048  # texts whose token count is remembered per counter (blocks of a few KB each)
COUNT_MEMOS = 8  # counters with a memo (one per model in use; a bound, since a memo keeps its counter alive)
_MEMOS: Lru[TokenCounter, TokenCounter] = Lru(COUNT_MEMOS)


def remembered_counts(count: TokenCounter) -> TokenCounter:
    """``count`` with the counts of recent texts remembered, one memo per counter.

    Consecutive questions in a session share most blocks (the window around the cursor,
    the definitions it uses, the repo map), and a real tokenizer spent about half of a
    warm question re-counting them.  Counts are a pure function of the text, so nothing
    is invalidated; the same wrapper is handed out for the same counter, so caches keyed
    by the counter (the repo map's text cache) keep hitting.
    """
    try:
        return _MEMOS.get_or_put(count, lambda: functools.lru_cache(maxsize=COUNT_MEMO_SIZE)(count))
    except TypeError:  # an unhashable counter object: count afresh
        return count


class FileLines:
    """Lines of repository files: the editor's text for the active file, else the disk, else the index.

    Text read here goes into prompts (and, through the MCP server, to other agents), so
    token-like lines are redacted exactly as the indexer redacts them: a context never
    shows a secret the index would not (line numbers are kept).
    """

    def __init__(self, repo: Path, reader: Reader, active: tuple[str, str] | None = None) -> None:
        self.repo = repo.resolve()
        self.reader = reader
        self._cache: dict[str, list[str]] = {}
        if active is not None:
            self._cache[active[0]] = redact(active[1]).text.splitlines(keepends=True)

    def get(self, path: str) -> list[str] | None:
        if path in self._cache:
            return self._cache[path]
        lines: list[str] | None = None
        full = (self.repo / path).resolve()
        if full.is_relative_to(self.repo) and full.is_file():
            lines = _disk_lines(full)
        if lines is None:
            chunks = self.reader.chunks_for_file(path)
            if chunks:
                by_line: dict[int, str] = {}
                for c in chunks:
                    for offset, text in enumerate(c.text.splitlines(keepends=True)):
                        by_line.setdefault(c.start_line + offset, text)
                lines = [by_line.get(n, "\n") for n in range(1, max(by_line) + 1)]
        if lines is not None:
            self._cache[path] = lines
        return lines


DISK_LINES_FILES = 256  # redacted files remembered between contexts (a session's questions reuse most)
_DISK_LINES: Lru[tuple[str, int, int], list[str]] = Lru(DISK_LINES_FILES)


def _disk_lines(full: Path) -> list[str] | None:
    """The redacted lines of a file on disk, remembered by path, size and mtime.

    Reading and redacting the two dozen files of a context took a third of a warm
    question; a file rewritten in place changes its mtime (or size), which misses here,
    as it makes the index's freshness check see it.  Callers must not mutate the list.
    """
    try:
        stat = full.stat()
        key = (str(full), stat.st_mtime_ns, stat.st_size)
        cached = _DISK_LINES.get(key)
        if cached is not None:
            return cached
        lines = redact(full.read_text(encoding="utf-8", errors="replace")).text.splitlines(keepends=True)
    except OSError:
        return None
    return _DISK_LINES.put(key, lines)


@dataclass
class _Piece:
    """A candidate or accepted block before it becomes a :class:`ContextItem`."""

    path: str
    start: int
    end: int
    kind: str
    reason: str
    score: float
    order: int  # position in the priority order (lower is more important)
    text: str = ""
    tokens: int = 0
    outline: bool = False
    rows: tuple[int, ...] = ()  # for an outline: the lines it shows

    @property
    def priority(self) -> int:
        return PRIORITY[self.kind]

    def item(self, files: FileLines) -> ContextItem:
        return ContextItem(self.path, self.start, self.end, self.kind, self.reason, self.score, self.tokens,
                           self.text, self.raw(files))

    def raw(self, files: FileLines) -> str:
        """The code this piece shows, without heading and line numbers."""
        if self.kind in ("repo-map", "rules"):
            return self.text.split("\n", 1)[1] if "\n" in self.text else ""
        lines = files.get(self.path) or []
        numbers = self.rows if self.outline else range(self.start, self.end + 1)
        return "".join(lines[n - 1] for n in numbers if 0 < n <= len(lines))


def _short(text: str, limit: int = 48) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _definition_outline(d: SymbolDef, fs: FileSymbols | None, lines: Sequence[str]) -> list[tuple[int, str]]:
    """The signature lines of a long definition and of its members (a class without bodies)."""
    rows: dict[int, str] = {}
    members = [m for m in (fs.definitions if fs else ()) if d.start_line <= m.start_line <= d.end_line]
    for m in [d, *members]:
        sig = m.signature.strip().splitlines() if m.signature.strip() else []
        first = m.start_line
        if sig:  # the signature may sit below decorators or comments that the span includes
            for n in range(m.start_line, min(m.start_line + 10, m.end_line, len(lines)) + 1):
                if lines[n - 1].strip().startswith(sig[0][:30]):
                    first = n
                    break
        last = min(first + max(1, len(sig)) - 1, m.end_line, len(lines))
        for n in range(first, last + 1):
            rows[n] = lines[n - 1]
    return sorted(rows.items())


class _Packer:
    """Greedy packing in priority order with span dedupe; remembers what was dropped."""

    def __init__(self, budget: int, count: TokenCounter, files: FileLines) -> None:
        self.budget = budget
        self.count = count
        self.files = files
        self.used = 0
        self.accepted: list[_Piece] = []
        self.dropped: list[_Piece] = []
        self.covered: dict[str, list[Span]] = {}
        self.order = 0
        self._costs: dict[str, int] = {}

    def room(self, ceiling: int | None = None) -> int:
        """Tokens still free, under ``ceiling`` (a group's quota) when given."""
        limit = self.budget if ceiling is None else min(self.budget, ceiling)
        return limit - self.used

    def _cost(self, text: str) -> int:
        if not text:
            return 0
        cost = self._costs.get(text)
        if cost is None:
            cost = self._costs[text] = self.count(text + render.BLOCK_SEPARATOR)
        return cost

    def _next(self) -> int:
        self.order += 1
        return self.order

    def accept(self, piece: _Piece) -> None:
        self.accepted.append(piece)
        self.used += piece.tokens
        if piece.path and piece.end >= piece.start:
            spans = [(r, r) for r in piece.rows] if piece.outline else [(piece.start, piece.end)]
            self.covered[piece.path] = merge_spans([*self.covered.get(piece.path, []), *spans])

    def offer(self, path: str, span: Span, kind: str, reason: str, score: float,
              outline: Callable[[], list[tuple[int, str]]] | None = None, head_ok: bool = False,
              ceiling: int | None = None) -> None:
        """Try to add lines ``span`` of ``path``; record a drop when they do not fit (under ``ceiling``)."""
        lines = self.files.get(path)
        if lines is None:
            return
        span = (max(1, span[0]), min(len(lines), span[1]))
        if span[1] < span[0]:
            return
        for start, end in subtract_spans(span, self.covered.get(path, [])):
            text = render.block(path, lines, start, end)
            piece = _Piece(path, start, end, kind, reason, score, self._next(), text, self._cost(text))
            if piece.tokens <= self.room(ceiling):
                self.accept(piece)
                continue
            if outline is not None:
                rows = [r for r in outline() if start <= r[0] <= end]
                small = render.outline_block(path, rows)
                cost = self._cost(small)
                if rows and cost <= self.room(ceiling):
                    self.accept(_Piece(path, rows[0][0], rows[-1][0], kind, f"{reason} (outline)", score,
                                       piece.order, small, cost, outline=True, rows=tuple(r for r, _ in rows)))
                    continue
            if head_ok:
                best_end = start - 1
                low, high = start, end
                while low <= high:
                    middle = (low + high) // 2
                    if self._cost(render.block(path, lines, start, middle)) <= self.room(ceiling):
                        best_end, low = middle, middle + 1
                    else:
                        high = middle - 1
                if best_end >= start:
                    text = render.block(path, lines, start, best_end)
                    self.accept(_Piece(path, start, best_end, kind,
                                       f"{reason} (first {best_end - start + 1} lines)", score, piece.order,
                                       text, self._cost(text)))
                    rest = _Piece(path, best_end + 1, end, kind, f"{reason} (rest)", score, piece.order)
                    rest.text = render.block(path, lines, best_end + 1, end)
                    rest.tokens = self._cost(rest.text)
                    self.dropped.append(rest)
                    continue
            self.dropped.append(piece)


def _merge_touching(pieces: list[_Piece], files: FileLines, count: TokenCounter) -> list[_Piece]:
    """Join same-file pieces whose spans touch into one (reasons combined, best score kept)."""
    by_file: dict[str, list[_Piece]] = {}
    for p in pieces:
        by_file.setdefault(p.path, []).append(p)
    merged: list[_Piece] = []
    for path, group in by_file.items():
        if not path:
            merged.extend(group)
            continue
        group.sort(key=lambda p: p.start)
        current: list[_Piece] = [group[0]]
        for p in group[1:]:
            last = current[-1]
            if not p.outline and not last.outline and p.start <= last.end + 1:
                current.append(p)
            else:
                merged.append(_combine(current, files, count))
                current = [p]
        merged.append(_combine(current, files, count))
    return merged


def _combine(group: list[_Piece], files: FileLines, count: TokenCounter) -> _Piece:
    if len(group) == 1:
        return group[0]
    lines = files.get(group[0].path) or []
    start = min(p.start for p in group)
    end = max(p.end for p in group)
    lead = min(group, key=lambda p: (p.priority, p.order))
    reasons: list[str] = []
    for p in sorted(group, key=lambda p: (p.priority, p.order)):
        if p.reason not in reasons:
            reasons.append(p.reason)
    text = render.block(lead.path, lines, start, end)
    return _Piece(lead.path, start, end, lead.kind, "; ".join(reasons), max(p.score for p in group), lead.order,
                  text, count(text + render.BLOCK_SEPARATOR))


def _active_block(path: str, lines: Sequence[str], start: int, end: int, target: Target) -> str:
    if target.line is None:
        note = "active file"
    else:
        where = f"line {target.line}" + (f", column {target.col}" if target.col is not None else "")
        note = f"active file, cursor at {where}"
        if target.end_line and target.end_line > target.line:
            note += f", selection to line {target.end_line}"
    return render.block(path, lines, start, end, note)


def _fit_window(packer: _Packer, target: Target, lines: Sequence[str], budget: int) -> Window:
    """The largest cursor window whose rendering costs at most ``budget`` real tokens.

    Searching with the real tokenizer would tokenize the window a dozen times; instead the
    search runs on a per-line byte model calibrated with one real count near the cursor, and
    the chosen window is then counted for real (and the model budget tightened if it was
    optimistic), so the result is exact with two or three tokenizer calls.
    """
    def real(start: int, end: int) -> int:
        return packer._cost(_active_block(target.path, lines, start, end, target))

    if not lines or budget <= 0:
        return cursor_window(lines, target.line, target.col, target.end_line, budget, real)
    centre = min(max(1, target.line or 1), len(lines))
    lo, hi = max(1, centre - CALIBRATION_LINES), min(len(lines), centre + CALIBRATION_LINES)
    sample = _active_block(target.path, lines, lo, hi, target)
    ratio = max(packer._cost(sample), 1) / max(1, len(sample.encode("utf-8")))
    sizes = [0]
    for number, line in enumerate(lines, start=1):
        sizes.append(sizes[-1] + len(line.encode("utf-8")) + len(str(number)) + 1)
    header = len(_active_block(target.path, lines, 1, 0, target).encode("utf-8")) + 16

    def model(start: int, end: int) -> int:
        return int((header + sizes[end] - sizes[start - 1]) * ratio) + 1

    target_budget = float(budget)
    for _ in range(4):
        window = cursor_window(lines, target.line, target.col, target.end_line, int(target_budget), model)
        if window.empty:
            break
        cost = real(window.start, window.end)
        if cost <= budget:
            return window
        target_budget *= budget / cost * 0.97
    return cursor_window(lines, target.line, target.col, target.end_line, budget, real)


def _layout(pieces: Sequence[_Piece], active_path: str) -> list[_Piece]:
    """Order for the prompt: project rules, repo map, other files by path and line, then the active file."""
    return sorted(pieces, key=lambda p: (p.kind != "rules", p.kind != "repo-map", p.path == active_path, p.path,
                                         p.start))


def search_with_fallback(reader: Reader, query: str, settings: RetrievalSettings, k: int | None = None,
                         **filters: str | None) -> list[SearchHit]:
    """The configured search, falling back to BM25 when the index has no vectors or the embedder fails."""
    mode = settings.mode if settings.mode in ("bm25", "vector", "hybrid") else "hybrid"
    if not reader.has_vectors:
        mode = "bm25"
    k = settings.top_k if k is None else k
    try:
        return search(reader, query, k=k, mode=mode, settings=settings, **filters)
    except AssistantError:
        raise
    except Exception as exc:  # the vector side failed (embedder missing...): BM25 still answers
        log.warning("vector search failed, using BM25: %s", exc)
        return search(reader, query, k=k, mode="bm25", settings=settings, **filters)


def _search_candidates(reader: Reader, query: str, target: Target, lines: Sequence[str],
                       settings: RetrievalSettings, hits: Sequence[SearchHit] | None,
                       ) -> list[tuple[str, Span, str, float]]:
    """``(path, span, reason, score)`` for the query's hits, or for code like the cursor's lines."""
    out: list[tuple[str, Span, str, float]] = []
    if query.strip():
        if hits is None:
            hits = search_with_fallback(reader, query, settings)
        reason = f"search hit for {_short(query)!r}"
        for h in hits:
            out.append((h.path, (h.start_line, h.end_line), reason, h.score))
        return out
    if target.line is None or not lines:
        return out
    first = max(1, target.line - SIMILAR_QUERY_LINES)
    tokens = code_tokens("".join(lines[first - 1:target.line]))
    if not tokens:
        return out
    for chunk, score in reader.bm25_search_tokens(tokens, settings.top_k):
        if chunk.path == target.path:
            continue
        out.append((chunk.path, (chunk.start_line, chunk.end_line), "similar to the code at the cursor", score))
    return out


def build_context(
    reader: Reader,
    target: Target,
    query: str,
    budget: int,
    count_tokens: TokenCounter,
    *,
    repo: Path,
    settings: RetrievalSettings,
    pinned: Sequence[str] = (),
    active_text: str | None = None,
    counter_name: str = "",
    hits: Sequence[SearchHit] | None = None,
    project_rules: bool = False,
) -> BuiltContext:
    """The context for ``target`` and ``query`` within ``budget`` tokens (a hard limit).

    ``active_text`` is the editor's (possibly unsaved) text of the active file; by default
    the file is read from disk.  ``pinned`` are repository paths the user asked to include.
    ``hits`` are the query's search hits when the caller already searched (the feature
    service picks the target from them): the same search is not run twice.
    ``project_rules`` adds the rules files that apply to the active file (questions and
    explanations; a completion prompt has no room for instructions).
    """
    budget = max(0, int(budget))
    count_tokens = remembered_counts(count_tokens)
    files = FileLines(repo, reader, (target.path, active_text) if active_text is not None else None)
    lines = files.get(target.path)
    if lines is None:
        raise RetrievalError(f"no such file in the repository: {target.path}",
                             hint="give a path relative to the repository root")
    packer = _Packer(budget, count_tokens, files)

    window = _fit_window(packer, target, lines, int(budget * WINDOW_SHARE))
    if not window.empty:
        text = _active_block(target.path, lines, window.start, window.end, target)
        packer.accept(_Piece(target.path, window.start, window.end, "active-file", "active-file window", 1.0,
                             0, text, packer._cost(text)))
    visible = (window.start, window.end) if not window.empty else None
    notes: list[str] = []
    if project_rules:
        notes += _offer_rules(packer, files.repo, target.path, settings.rules_max_bytes)

    for path in pinned:
        pinned_lines = files.get(path)
        if pinned_lines is None:
            raise RetrievalError(f"pinned file not found: {path}")
        packer.offer(path, (1, len(pinned_lines)), "pinned", "pinned file", 1.0, head_ok=True)

    symbols = reader.symbol_view()  # files' symbols read as asked for, not the whole table
    candidates: list[DefinitionCandidate] = definitions_at(
        symbols, target.path, lines, target.line, visible=visible, defined=SymbolIndex(reader).defined,
        limit=max(settings.top_k, 10))
    cap = max(1, int(budget * DEFINITION_SHARE))
    # With a question, definitions get a quota so the search hits for it still find room.
    ceiling = packer.used + int(budget * DEFINITIONS_QUOTA) if query.strip() else None
    for c in candidates:
        d = c.definition
        def_lines = files.get(d.path)
        if def_lines is None:
            continue
        def outline(d: SymbolDef = d, dl: list[str] = def_lines) -> list[tuple[int, str]]:
            return _definition_outline(d, symbols.get(d.path), dl)

        span = (d.start_line, d.end_line)
        text = render.block(d.path, def_lines, *span)
        # No tokenizer packs more than ~12 characters into a token: longer texts need no count.
        if len(text) > cap * 12 or packer._cost(text) > cap:
            rows = outline()
            small = render.outline_block(d.path, rows)
            if rows and packer._cost(small) <= packer.room(ceiling):
                if not subtract_spans(span, packer.covered.get(d.path, [])):
                    continue
                piece = _Piece(d.path, rows[0][0], rows[-1][0], "definition", f"definition of {c.name} (outline)",
                               c.score, packer._next(), small, packer._cost(small), outline=True,
                               rows=tuple(r for r, _ in rows))
                packer.accept(piece)
                continue
        packer.offer(d.path, span, "definition", f"definition of {c.name}", c.score, outline=outline,
                     ceiling=ceiling)

    for path, span, reason, score in _search_candidates(reader, query, target, lines, settings, hits):
        packer.offer(path, span, "search-hit", reason, score)

    focus_names = list(names_near(lines, target.line or 1))[:50]
    focus_names += analyze_query(query).names if query else []
    map_room = min(packer.room(), settings.repo_map_tokens)
    header_cost = count_tokens(render.REPO_MAP_HEADER + "\n" + render.BLOCK_SEPARATOR)
    if map_room - header_cost >= MIN_REPO_MAP_TOKENS and symbols:
        focus_files = [target.path, *[p.path for p in packer.accepted if p.path]]
        # An index is mapped by its content (the tables saved for it, or the last ones patched with the changed
        # files); a reader without one (a test double) by its symbols.
        source = reader if isinstance(reader, IndexedSymbols) else reader.symbols
        map_text = build_repo_map(source, map_room - header_cost, count_tokens, focus_files, focus_names,
                                  cache_key=str(files.repo))
        text = render.repo_map_block(map_text)
        if text:
            cost = packer._cost(text)
            piece = _Piece("", 0, 0, "repo-map", "repo map", 0.0, packer._next(), text, cost)
            if cost <= packer.room():
                packer.accept(piece)
            else:
                packer.dropped.append(piece)
    elif symbols:
        packer.dropped.append(_Piece("", 0, 0, "repo-map", "repo map (no room left)", 0.0, packer._next()))

    built = _finish(packer, target, window.prefix, window.suffix, budget, count_tokens, files, counter_name)
    built.notes = notes
    return built


def _offer_rules(packer: _Packer, repo: Path, active_path: str, cap_bytes: int) -> list[str]:
    """Add the project's rules for ``active_path`` when they fit; returns notes on skipped rules files."""
    rules = project_rules(repo, active_path, cap_bytes)
    if not rules.text:
        return rules.notes
    text = render.rules_block(rules.text)
    cost = packer._cost(text)
    piece = _Piece("", 0, 0, "rules", f"{RULES_REASON}: {', '.join(rules.paths)}", 1.0, packer._next(), text, cost)
    if cost <= packer.room():
        packer.accept(piece)
        return rules.notes
    packer.dropped.append(piece)
    return [*rules.notes, f"{RULES_REASON} ({cost} tokens) did not fit the context budget"]


def _finish(packer: _Packer, target: Target, prefix: str, suffix: str, budget: int, count: TokenCounter,
            files: FileLines, counter_name: str) -> BuiltContext:
    """Merge, lay out and verify the final text; drop from the lowest priority until it fits."""
    accepted = _merge_touching(list(packer.accepted), files, count)
    dropped = list(packer.dropped)
    window_tokens = (count(prefix) if prefix else 0) + (count(suffix) if suffix else 0)
    while True:
        ordered = _layout(accepted, target.path)
        if not any(p.kind == "active-file" for p in ordered):
            prefix = suffix = ""
            window_tokens = 0
        text = render.join_blocks([p.text for p in ordered])
        other = render.join_blocks([p.text for p in ordered if p.kind != "active-file"])
        used = count(text) if text else 0
        fim_used = (count(other) if other else 0) + window_tokens if used <= budget else budget + 1
        if (used <= budget and fim_used <= budget) or not accepted:
            break
        worst = max(accepted, key=lambda p: (p.kind != "active-file", p.priority, p.order))
        accepted.remove(worst)
        dropped.append(replace(worst, reason=f"{worst.reason} (over budget after rendering)"))
    dropped.sort(key=lambda p: (p.priority, -p.score, p.order))
    return BuiltContext(
        items=[p.item(files) for p in ordered],
        dropped=[p.item(files) for p in dropped],
        text=text,
        tokens_used=used,
        budget=budget,
        prefix=prefix,
        suffix=suffix,
        other_text=other,
        counter=counter_name,
    )
