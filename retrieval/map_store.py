"""The repo map's ranked structure on disk, keyed by the repository's content, never by the question.

Building the structure needs every file's symbols (seconds on a large tree), ranking a new
question needs only the structure (milliseconds), so a CLI call or a fresh TUI loads it
from here instead.  The key is the index's content digest (indexed paths and their hashes,
:meth:`indexer.reader.IndexReader.content_digest`) with the graph's format: any added,
removed or edited file changes it, and re-indexing the same content finds it again.  (Aider
keys its map cache by the chat's files and mentioned identifiers, so nearly every new
question misses.)

Files live in the user cache dir (``repo-map/<key>.npz``), not in the repository: a
read-only checkout or an index shared by several readers still gets the cache, and only
the newest ``KEEP`` are kept (a kernel-sized tree's graph is ~40 MB; every edit makes a new key).  A file that cannot be read is ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

from base.atomic import atomic_file
from base.paths import user_cache_dir
from retrieval.map_graph import GRAPH_FORMAT, MapGraph

log = logging.getLogger(__name__)

KEEP = 4


def cache_dir() -> Path:
    """``<user cache>/repo-map``; ``REPO_ASSISTANT_MAP_CACHE_DIR`` overrides (tests isolate it)."""
    override = os.environ.get("REPO_ASSISTANT_MAP_CACHE_DIR")
    return Path(override).expanduser() if override else user_cache_dir() / "repo-map"


def graph_key(content_digest: str) -> str:
    """The file name stem for a content digest and the current graph format."""
    return hashlib.sha256(f"{GRAPH_FORMAT}\n{content_digest}".encode()).hexdigest()[:40]


def load(content_digest: str) -> MapGraph | None:
    """The saved graph for this content, or None (never saved, or unreadable)."""
    import numpy as np

    path = cache_dir() / f"{graph_key(content_digest)}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            graph = MapGraph.from_arrays({name: data[name] for name in data.files})
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or foreign file: rebuild rather than fail the question
        log.warning("ignoring unreadable repo map cache %s: %s", path, exc)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept by the pruning below
    return graph


def save(content_digest: str, graph: MapGraph) -> None:
    """Write the graph atomically (a concurrent reader sees the old file or the new one), then prune."""
    import numpy as np

    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_file(directory / f"{graph_key(content_digest)}.npz", private=True) as out:
            np.savez(out, **graph.arrays())
    except OSError as exc:  # a full or read-only cache dir costs speed, not the answer
        log.warning("could not save the repo map cache in %s: %s", directory, exc)
        return
    _prune(directory)


def _prune(directory: Path) -> None:
    with contextlib.suppress(OSError):
        files = sorted(directory.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[KEEP:]:
            old.unlink(missing_ok=True)
