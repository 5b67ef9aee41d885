"""Issue localization: which files (and which chunks in them) an issue is about.

Patch generation can only fix what it is shown, so it asks for the few files most
likely to need a change.  Signals, each a ranked list of *files*, fused by weighted
reciprocal rank:

- ``bm25``: chunk BM25 over the issue text (identifiers boosted), aggregated per file;
- ``title``: the same over the issue's title alone (its first line, when more follows):
  the title is the reporter's one-line summary, while a long body dilutes BM25 with
  environment details, reproduction steps and quoted output;
- ``vector``: chunk embedding similarity to the issue, aggregated per file;
- ``symbol``: files that *define* names the issue mentions (``separability_matrix``,
  ``CompoundModel``), the rarer the name the stronger;
- ``path``: files the issue names (``requests/models.py``, ``requests.models``);
- ``frame``: files of traceback frames, innermost first;
- ``message``: files whose string literals contain a run of words of an error or warning
  message the issue quotes (``WARNING: no number is assigned for table``): the code that
  prints a message is often where the fix goes.

A prior then demotes files that are rarely what a fix changes: tests, docs,
examples, vendored third-party code and non-code text (even when the issue names them: issues cite docs and
tests as evidence of the bug).  Each returned file
carries its best chunks from the fused chunk ranking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from base.config import RetrievalSettings
from indexer.languages import detect_language
from indexer.tokenize import code_tokens
from indexer.types import Chunk
from retrieval.fusion import rrf_fuse
from retrieval.query import QueryAnalysis, analyze_query, boosted_tokens, message_words
from retrieval.render import heading
from retrieval.search import Reader, SymbolIndex, _ChunkLookup, is_test_path, symbol_matches
from retrieval.types import FileHit, Localization, SearchHit

log = logging.getLogger(__name__)

BM25_CHUNKS = 300
VECTOR_CHUNKS = 150
FILE_RRF_K = 10  # small: the head of each file ranking matters most
CHUNK_RRF_K = 60
# Measured on the SWE-bench Lite dev set (bench/localization.py, 62 issues, hybrid R@1 / R@5 / gold in 16K):
# without title and message 0.532 / 0.790 / 0.935; + message 0.548 / 0.790 / 0.952; + title 0.565 / 0.855 / 0.984.
WEIGHTS = {"bm25": 1.0, "title": 1.0, "vector": 1.0, "symbol": 1.0, "path": 1.0, "frame": 1.5, "message": 1.0}
TITLE_MAX_CHARS = 200  # a longer first line is a paragraph, not a title
MESSAGE_CHUNKS = 30  # BM25 candidates per quoted message, then checked for the phrase
MESSAGE_RUN = 3  # consecutive words shared with a string literal: a phrase, not a bag of words
CHUNKS_PER_FILE = 3
# Measured on the SWE-bench Lite dev set (bench/localization.py, 62 issues, hybrid): priors of
# 0.3 → 0.1 moved R@5 0.758 → 0.774 and the gold file in 16K 0.919 → 0.935; 0.03 changed nothing.
TEST_PRIOR = 0.1
DOC_PRIOR = 0.1
# Languages (as the indexer names them) of files that are data or prose, not code.
TEXT_LANGUAGES = frozenset({"markdown", "text", "json", "yaml", "toml", "ini", "xml", ""})


def is_doc_path(path: str) -> bool:
    """Documentation, examples and benchmarks: code a fix rarely touches."""
    parts = path.lower().split("/")
    return any(p in ("doc", "docs", "documentation", "examples", "example", "bench", "benchmarks", "changelog")
               for p in parts[:-1])


def is_vendored_path(path: str) -> bool:
    """Third-party code copied into the repository: fixed upstream, not here."""
    parts = path.lower().split("/")
    return any(p in ("vendor", "vendored", "_vendor", "third_party", "thirdparty", "3rdparty", "extern",
                     "cextern", "node_modules") for p in parts[:-1])


def prior(path: str, language: str) -> float:
    """How likely a fix touches this file before reading the issue: tests, docs, vendored code and
    text are rarely what needs changing (a named file too: issues cite docs and tests as evidence)."""
    if is_test_path(path):
        return TEST_PRIOR
    if is_doc_path(path) or is_vendored_path(path) or language in TEXT_LANGUAGES:
        return DOC_PRIOR
    return 1.0


def _aggregate(ranked: Sequence[tuple[Chunk, float]], decay: float = 0.5, depth: int = 3) -> list[str]:
    """Files ordered by their best chunk score plus decayed further ones."""
    per_file: dict[str, list[float]] = {}
    for chunk, score in ranked:
        per_file.setdefault(chunk.path, []).append(score)
    totals = {path: sum(s * decay**i for i, s in enumerate(sorted(scores, reverse=True)[:depth]))
              for path, scores in per_file.items()}
    return sorted(totals, key=lambda p: (-totals[p], p))


def _symbol_files(analysis: QueryAnalysis, index: SymbolIndex) -> list[str]:
    """Files defining the issue's names: a name defined in n files gives each 1/n."""
    scores: dict[str, float] = {}
    for name, defs in symbol_matches(analysis, index):
        files = {d.path for d in defs}
        weight = 1.0 / len(files)
        if len(name) <= 3:
            weight *= 0.5
        for path in files:
            scores[path] = scores.get(path, 0.0) + weight
    return sorted(scores, key=lambda p: (-scores[p], p))


def _path_files(analysis: QueryAnalysis, index: SymbolIndex) -> list[str]:
    """Files the issue names as paths or dotted modules, in order of mention."""
    found: list[str] = []
    for mention in analysis.paths:
        found += [p for p in index.files_named(mention) if p not in found]
    for dotted in analysis.dotted:
        found += [p for p in index.module_files(dotted) if p not in found]
    return found


def _frame_files(analysis: QueryAnalysis, index: SymbolIndex) -> list[str]:
    """Files of the traceback frames, innermost first (where an exception is raised is where
    a fix most often goes), then the files defining the frames' functions."""
    found: list[str] = []
    for frame in reversed(analysis.frames):
        found += [p for p in index.files_named(frame.path) if p not in found]
    for name in analysis.frame_names:
        defs = index.defined(name)
        if 0 < len(defs) <= 3:
            found += [d.path for d in defs if d.path not in found]
    return found


def issue_title(issue_text: str) -> str:
    """The first non-empty line (Markdown heading marks dropped) when the text goes on after it."""
    lines = [line.strip() for line in issue_text.strip().splitlines() if line.strip()]
    if len(lines) < 2 or len(lines[0]) > TITLE_MAX_CHARS:
        return ""
    return lines[0].lstrip("#").strip()


def _runs(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + MESSAGE_RUN]) for i in range(len(words) - MESSAGE_RUN + 1)}


def _message_files(analysis: QueryAnalysis, reader: Reader) -> list[str]:
    """Files with a string literal sharing the most word runs with a quoted message, best first.

    Candidates come from BM25 on each message; a line counts only when it holds a quote
    character (a literal, not a comment or prose).  Ties keep BM25 order.
    """
    scores: dict[str, int] = {}
    for message in analysis.messages:
        wanted = _runs(message_words(message))
        for chunk, _score in reader.bm25_search_tokens(code_tokens(message), MESSAGE_CHUNKS):
            shared = max((len(_runs(message_words(line)) & wanted) for line in chunk.text.splitlines()
                          if '"' in line or "'" in line), default=0)
            if shared:
                scores[chunk.path] = max(scores.get(chunk.path, 0), shared)
    return sorted(scores, key=lambda p: -scores[p])


def localize(
    reader: Reader,
    issue_text: str,
    k: int = 10,
    *,
    settings: RetrievalSettings | None = None,
    mode: str = "hybrid",
) -> Localization:
    """The ``k`` files most likely to need a change for ``issue_text``, best first, with their best chunks.

    ``mode`` ``bm25`` skips the vector signal (also skipped when the index has no vectors);
    ``vector`` uses only the embedding signal (for comparison in the benchmark).
    """
    settings = settings or RetrievalSettings()
    if k <= 0 or not issue_text.strip():
        return Localization([])
    analysis = analyze_query(issue_text)
    index = SymbolIndex(reader)
    lookup = _ChunkLookup(reader)
    chunk_lists: dict[str, list[Chunk]] = {}
    file_lists: dict[str, list[str]] = {}
    use_lexical = mode in ("bm25", "hybrid")
    use_vector = mode in ("vector", "hybrid") and reader.has_vectors
    if use_lexical:
        bm25 = reader.bm25_search_tokens(boosted_tokens(analysis), BM25_CHUNKS)
        chunk_lists["bm25"] = [c for c, _ in bm25]
        file_lists["bm25"] = _aggregate(bm25)
        title = issue_title(issue_text)
        if title:
            file_lists["title"] = _aggregate(reader.bm25_search_tokens(boosted_tokens(analyze_query(title)),
                                                                      BM25_CHUNKS))
        file_lists["symbol"] = _symbol_files(analysis, index)
        file_lists["path"] = _path_files(analysis, index)
        file_lists["frame"] = _frame_files(analysis, index)
        file_lists["message"] = _message_files(analysis, reader)
        symbol_chunks: list[Chunk] = []
        for _name, defs in symbol_matches(analysis, index):
            for d in defs[:10]:
                chunk = lookup.for_definition(d)
                if chunk is not None:
                    symbol_chunks.append(chunk)
        chunk_lists["symbol"] = symbol_chunks
    if use_vector:
        try:
            vectors = reader.vector_search(issue_text, VECTOR_CHUNKS)
        except Exception as exc:  # embedder unavailable: the lexical signals still answer
            if mode == "vector":
                raise
            log.warning("vector search failed during localization, using BM25 only: %s", exc)
            vectors = []
        chunk_lists["vector"] = [c for c, _ in vectors]
        file_lists["vector"] = _aggregate(vectors, decay=0.3)
    fused_files = rrf_fuse({n: v for n, v in file_lists.items() if v}, weights=WEIGHTS, k=FILE_RRF_K)
    scored: list[tuple[str, float]] = []
    for path, score, _ranks in fused_files:
        scored.append((path, score * prior(path, detect_language(path))))
    scored.sort(key=lambda item: (-item[1], item[0]))
    fused_chunks = rrf_fuse({n: v for n, v in chunk_lists.items() if v}, k=CHUNK_RRF_K, key=lambda c: c.id)
    by_file: dict[str, list[SearchHit]] = {}
    for chunk, score, ranks in fused_chunks:
        bucket = by_file.setdefault(chunk.path, [])
        if len(bucket) < CHUNKS_PER_FILE:
            bucket.append(SearchHit(chunk=chunk, score=score, sources=ranks))
    files: list[FileHit] = []
    for path, score in scored[:k]:
        chunks = by_file.get(path) or [SearchHit(c, 0.0) for c in lookup.chunks(path)[:1]]
        files.append(FileHit(path=path, score=score, chunks=chunks))
    return Localization(files)


def localization_context(
    reader: Reader,
    localization: Localization,
    budget: int,
    count_tokens: Callable[[str], int],
) -> list[Chunk]:
    """Chunks packed in localization order (each file's best chunks, then the rest) into ``budget``.

    This is the context a patch prompt gets from :func:`localize`; the benchmark asks
    whether a chunk of the gold file is in it.
    """
    used = 0
    chosen: list[Chunk] = []
    seen: set[str] = set()
    lookup = _ChunkLookup(reader)
    queue: list[Chunk] = [h.chunk for f in localization.files for h in f.chunks]
    for f in localization.files:
        queue += lookup.chunks(f.path)
    for chunk in queue:
        if chunk.id in seen:
            continue
        cost = int(count_tokens(heading(chunk.path, chunk.start_line, chunk.end_line) + chunk.text + "\n"))
        if used + cost > budget:
            continue
        seen.add(chunk.id)
        used += cost
        chosen.append(chunk)
        if budget - used < 16:
            break
    return chosen
