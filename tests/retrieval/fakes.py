"""A small in-memory stand-in for :class:`indexer.reader.IndexReader`, for unit tests of pure logic.

It chunks hand-written files by blank-line-separated blocks and ranks them with
rank-bm25 over the indexer's own tokenizer; the integration tests use the real reader.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from rank_bm25 import BM25Okapi

from indexer.tokenize import code_tokens, path_tokens
from indexer.types import Chunk, FileSymbols, SymbolDef
from retrieval.symbols import SymbolTable


def chunk_file(path: str, text: str, language: str = "python") -> list[Chunk]:
    """Blocks of lines separated by blank lines, each one chunk."""
    chunks: list[Chunk] = []
    lines = text.splitlines(keepends=True)
    start = None
    for number, line in enumerate([*lines, "\n"], start=1):
        if line.strip() and start is None:
            start = number
        elif not line.strip() and start is not None:
            body = "".join(lines[start - 1:number - 1])
            first = body.lstrip().split("(")[0].split(":")[0]
            symbol = first.split()[-1] if first.startswith(("def ", "class ")) else ""
            kind = "function" if first.startswith("def ") else "class" if first.startswith("class ") else "module"
            cid = hashlib.sha1(f"{path}:{start}:{body}".encode()).hexdigest()[:16]
            chunks.append(Chunk(cid, path, language, kind, symbol, start, number - 1, 0, len(body), body))
            start = None
    return chunks


class FakeReader:
    def __init__(self, files: Mapping[str, str], symbols: Mapping[str, FileSymbols] | None = None,
                 root: Path | None = None) -> None:
        self._files = dict(files)
        self._chunks = [c for path, text in sorted(files.items()) for c in chunk_file(path, text)]
        self._symbols = dict(symbols or {})
        self._bm25 = BM25Okapi([code_tokens(c.text) + path_tokens(c.path) for c in self._chunks])
        self.has_vectors = False
        if root is not None:
            for path, text in files.items():
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_text(text)

    def files(self) -> list[str]:
        return sorted(self._files)

    def chunks(self) -> list[Chunk]:
        return list(self._chunks)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return next((c for c in self._chunks if c.id == chunk_id), None)

    def chunks_for_file(self, path: str) -> list[Chunk]:
        return [c for c in self._chunks if c.path == path]

    def symbols(self) -> dict[str, FileSymbols]:
        return self._symbols

    def symbol_view(self) -> dict[str, FileSymbols]:
        return self._symbols

    def definitions_named(self, names: Iterable[str]) -> list[SymbolDef]:
        return SymbolTable(self._symbols).definitions_named(names)

    def files_with_basename(self, basename: str) -> list[str]:
        return [p for p in self.files() if p.rsplit("/", 1)[-1] == basename]

    def bm25_search(self, query: str, k: int = 20) -> list[tuple[Chunk, float]]:
        return self.bm25_search_tokens(code_tokens(query), k)

    def bm25_search_tokens(self, tokens: Sequence[str], k: int = 20) -> list[tuple[Chunk, float]]:
        if not tokens:
            return []
        scores = self._bm25.get_scores(list(tokens))
        order = sorted(range(len(self._chunks)), key=lambda i: -scores[i])
        return [(self._chunks[i], float(scores[i])) for i in order[:k] if scores[i] > 0]

    def vector_search(self, query: str, k: int = 20, paths: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        raise AssertionError("the fake reader has no vectors")

    def stale_files(self) -> list[str]:
        return []

    def close(self) -> None:
        pass
