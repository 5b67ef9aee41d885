"""The repo map's def/ref tables on disk, keyed by the repository's content, never by the question.

Building the tables needs every file's symbols (seconds on a large tree); ranking a new
question needs only the tables and the graph derived from them (milliseconds), so a CLI call
or a fresh TUI loads them from here instead.  The key is the index's content digest (indexed
paths and their hashes, :meth:`indexer.reader.IndexReader.content`) with the tables' layout
and the map's weights: any added, removed or edited file changes it, and re-indexing the same
content finds it again.  (Aider keys its map cache by the chat's files and mentioned
identifiers, so nearly every new question misses.)

Per repository a pointer names the newest tables (``repo-<hash of its path>.latest``): after
an edit, the first process patches those with the changed files
(:mod:`retrieval.map_tables`) instead of reading every file's symbols.

Files live in the user cache dir (``repo-map/``), not in the repository: a read-only
checkout or an index shared by several readers still gets the cache, and only the newest
``KEEP`` are kept (every edit makes a new key; a kernel-sized tree's tables are ~60 MB).  A
file that cannot be read is ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from base.atomic import atomic_file
from base.paths import user_cache_dir
from retrieval.map_graph import GRAPH_FORMAT
from retrieval.map_tables import TABLES_FORMAT, MapTables

log = logging.getLogger(__name__)

KEEP = 4
SUFFIX, LATEST_SUFFIX = ".npz", ".latest"
T = TypeVar("T")


def cache_dir() -> Path:
    """``<user cache>/repo-map``; ``REPO_ASSISTANT_MAP_CACHE_DIR`` overrides (tests isolate it)."""
    override = os.environ.get("REPO_ASSISTANT_MAP_CACHE_DIR")
    return Path(override).expanduser() if override else user_cache_dir() / "repo-map"


def tables_key(content_digest: str) -> str:
    """The file name stem for a content digest and the current layout and weights."""
    return hashlib.sha256(f"{TABLES_FORMAT} {GRAPH_FORMAT}\n{content_digest}".encode()).hexdigest()[:40]


def _load_npz(path: Path, build: Callable[[dict[str, Any]], T]) -> T | None:
    """``build`` over the arrays saved at ``path``, or None (never saved, or unreadable)."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            found = build({name: data[name] for name in data.files})
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or foreign file: rebuild rather than fail the question
        log.warning("ignoring unreadable repo map cache %s: %s", path, exc)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept by the pruning below
    return found


def _save_npz(path: Path, arrays: dict[str, Any]) -> bool:
    """Write atomically (a concurrent reader sees the old file or the new one); False when it could not be."""
    import numpy as np

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, private=True) as out:
            np.savez(out, **arrays)
    except OSError as exc:  # a full or read-only cache dir costs speed, not the answer
        log.warning("could not save the repo map cache in %s: %s", path.parent, exc)
        return False
    return True


def load(content_digest: str) -> MapTables | None:
    """The tables saved for this content, or None (never saved, or unreadable)."""
    return _load_npz(cache_dir() / f"{tables_key(content_digest)}{SUFFIX}", MapTables.from_arrays)


def load_latest(repo_key: str, version: str) -> MapTables | None:
    """The tables saved last for the repository ``repo_key`` under the index ``version``, or None."""
    if not repo_key:
        return None
    try:
        key = (cache_dir() / f"{_repo_stem(repo_key)}{LATEST_SUFFIX}").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    tables = _load_npz(cache_dir() / f"{key}{SUFFIX}", MapTables.from_arrays)
    return tables if tables is not None and tables.version == version else None


def save(content_digest: str, tables: MapTables, repo_key: str = "") -> None:
    """Save the tables for this content and, given ``repo_key``, as that repository's latest; then prune."""
    directory = cache_dir()
    key = tables_key(content_digest)
    if _save_npz(directory / f"{key}{SUFFIX}", tables.arrays()) and repo_key:
        with contextlib.suppress(OSError), atomic_file(directory / f"{_repo_stem(repo_key)}{LATEST_SUFFIX}",
                                                       private=True) as out:
            out.write(key.encode())
    _prune(directory)


def _repo_stem(repo_key: str) -> str:
    return "repo-" + hashlib.sha256(repo_key.encode()).hexdigest()[:24]


def _prune(directory: Path) -> None:
    """Keep the newest ``KEEP`` tables (a pointer to pruned ones then simply misses)."""
    with contextlib.suppress(OSError):
        files = sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[KEEP:]:
            old.unlink(missing_ok=True)
