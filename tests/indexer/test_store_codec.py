"""What the index stores compressed reads back exactly as the chunker made it.

Chunk header + text and a file's references/imports are zlib BLOBs since format 5; a
wrong length prefix or a lossy encoding would silently change what search shows and
what the LLM reads, so the reader's chunks and symbols are compared with the chunker's
own output for files with non-ASCII text, redacted secrets and replacement characters.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from base.config import IndexSettings
from indexer import store
from indexer.chunker import chunk_file
from indexer.languages import detect_language
from indexer.pipeline import index_repository
from indexer.reader import IndexReader
from indexer.secrets import redact
from indexer.types import Chunk

SETTINGS = IndexSettings(embeddings=False)
TOKEN = "ghp_" + "x1Y2" * 9
FILES = {
    "pkg/unicode.py": ('"""Café, naïve, 中文, emoji 🎉 and a header-like line 12:34."""\n\n\n'
                       "class Größe:\n    def ü(self, straße: str) -> str:\n"
                       "        return f'{straße} → ✓'\n\n\ndef ok():\n    return 'Ω'\n"),
    "pkg/settings.py": f'GITHUB_TOKEN = "{TOKEN}"\nDEBUG = True\n\n\ndef debug_enabled():\n    return DEBUG\n',
    "docs/notes.md": "# Überblick\n\n3: a line that starts like the length prefix\n\n## Ende\n\nÄÖÜ.\n",
}


@pytest.mark.parametrize("header, text", [
    ("", ""),
    ("", "12:starts like a length prefix"),
    ("class A:", "def f():\n    return 1\n"),
    ("class Größe(Base):  # 3:4", "x = '中文 🎉' \\ \"q\" \t\r\x00\n"),
])
def test_file_chunks_round_trip(header: str, text: str) -> None:
    chunks = [Chunk(f"{i:024x}", "pkg/ü.py", "python", "function", f"Größe.f{i}", i, i + 2, 10 * i, 10 * i + 9,
                    text * i, header, f"{i:016x}") for i in range(3)]
    blob = store.pack_file_chunks(chunks)
    assert store.unpack_file_chunks(blob, [c.id for c in chunks], "pkg/ü.py") == chunks
    assert store.unpack_file_chunks(blob, [None, chunks[1].id], "pkg/ü.py") == [None, chunks[1]]


def _expected(repo: Path, path: str) -> tuple[list[Chunk], object]:
    """The chunker's chunks and symbols for a file, the way the pipeline prepares its text."""
    text = (repo / path).read_bytes().decode("utf-8", errors="replace")
    result = chunk_file(path, redact(text).text, detect_language(path), SETTINGS.chunk_tokens)
    return sorted(result.chunks, key=lambda c: (c.start_line, c.end_line)), result.symbols


def test_reader_returns_the_chunkers_chunks_and_symbols(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for path, text in FILES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text, encoding="utf-8")
    (repo / "pkg" / "latin1.py").write_bytes("name = 'caf\xe9'\n\n\ndef cafe():\n    return name\n".encode("latin-1"))
    stats = index_repository(repo, SETTINGS)
    assert stats.redacted_lines == 1 and stats.replaced_characters == 1
    with IndexReader.open(repo, SETTINGS) as reader:
        symbols = reader.symbols()
        for path in reader.files():
            chunks, file_symbols = _expected(repo, path)
            assert reader.chunks_for_file(path) == chunks, path
            assert {c.id: c for c in reader.chunks() if c.path == path} == {c.id: c for c in chunks}
            if file_symbols is not None:
                assert symbols[path].definitions == file_symbols.definitions
                # a set in the chunker: its order depends on the worker process's hash seed
                assert set(symbols[path].references) == set(file_symbols.references)
                assert symbols[path].imports == file_symbols.imports
        everything = "\n".join(c.text for c in reader.chunks())
        assert TOKEN not in everything and "[redacted github token]" in everything
        assert "中文, emoji 🎉" in everything and "\ufffd" in everything
    conn = sqlite3.connect(store.db_path(repo))
    try:
        assert conn.execute("SELECT COUNT(*) FROM chunk_files WHERE typeof(body) != 'blob'").fetchone()[0] == 0
    finally:
        conn.close()


def test_chunk_text_is_stored_compressed(sample_repo_copy: Path) -> None:
    """On real code the stored bodies take well under the text's bytes (3.4x smaller on site-packages)."""
    index_repository(sample_repo_copy, SETTINGS)
    conn = sqlite3.connect(store.db_path(sample_repo_copy))
    try:
        raw = packed = 0
        for (body,) in conn.execute("SELECT body FROM chunk_files"):
            chunks = store.unpack_file_chunks(body, ["id"] * len(body), "path")
            raw += sum(len(c.header.encode()) + len(c.text.encode()) for c in chunks if c is not None)
            packed += len(body)
    finally:
        conn.close()
    assert packed < 0.6 * raw, f"{packed} bytes stored for {raw} bytes of text"
