"""Vector storage in Qdrant: an embedded Qdrant Edge shard by default, a Qdrant server by URL.

Embedded (default) — ``qdrant-edge-py``, chosen by measurement over qdrant-client's
local mode (see ``bench/index.py --compare-stores``): Edge upserts ~17K points/s
against ~350–900 for local mode, searches in milliseconds, and reopens in a fraction
of a second.  Neither lets a second process open a shard that a writer holds (Edge
takes a lock on its WAL; a reader that tried damaged the writer's files in our
tests), so the embedded store is **copy-on-write**:

* published shards are immutable directories ``qdrant/<collection>/gen-N`` created
  without a WAL (so any number of readers can load them at once);
* a run copies the current generation to a temporary directory, applies its
  upserts and deletions there, flushes, closes, renames it to ``gen-N+1`` and only
  then commits ``vector_state`` in SQLite — readers switch on their next search;
* a crash leaves a stray ``*.tmp`` directory that the next run deletes; the
  published generation and its SQLite record are untouched.

Server (``--qdrant-url``) — qdrant-client against a server or cluster (or ``local:DIR``
for qdrant-client's local mode), writing straight into the collection: the server
handles concurrent readers.  Same semantics either way: one collection per repository
+ embedding model + dimension, deterministic UUID point ids derived from chunk ids
(re-runs upsert, never duplicate), payload ``chunk_id, path, symbol, kind,
start_line, end_line, language, content_hash`` with a keyword index on ``path``, and
deletion of the points of changed and deleted chunks.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from base.config import IndexSettings
from base.errors import IndexingError, RetrievalError
from indexer.store import index_dir
from indexer.types import Chunk

POINT_NAMESPACE = uuid.UUID("5c0f7f1e-8a43-4a8f-9a59-2d3c5f0b6e11")


def point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, chunk_id))


def repo_prefix(repo: Path) -> str:
    """``ra_<repo name>_<path hash>``: what every collection of one repository is named after."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", repo.name).strip("-")[:24] or "repo"
    repo_hash = hashlib.sha1(str(repo.resolve()).encode()).hexdigest()[:8]
    return f"ra_{slug}_{repo_hash}"


def collection_name(repo: Path, model: str, dim: int) -> str:
    """``ra_<repo name>_<path hash>_<model>_<dim>``: one collection per repo + model + dimension."""
    model_slug = re.sub(r"[^A-Za-z0-9]+", "-", model.rsplit("/", 1)[-1]).strip("-")[:32]
    return f"{repo_prefix(repo)}_{model_slug}_{dim}"


def payload(chunk: Chunk) -> dict[str, Any]:
    return {"chunk_id": chunk.id, "path": chunk.path, "symbol": chunk.symbol, "kind": chunk.kind,
            "start_line": chunk.start_line, "end_line": chunk.end_line, "language": chunk.language,
            "content_hash": chunk.content_hash}


def edge_root(repo: Path) -> Path:
    return index_dir(repo) / "qdrant"


SPARSE_BLOCK = 1 << 16


def copy_sparse(src: str, dst: str) -> str:
    """Copy one file keeping its holes (``shutil.copytree``'s ``copy_function``).

    Qdrant Edge preallocates its mmap files (32 MiB of vectors, 32 MiB of payload pages,
    4 MiB per keyword index), which stay sparse, a few hundred KiB on disk, until
    something copies them byte for byte: ``shutil.copy2`` writes the zeros, and every
    generation of the index then took 70 MiB whatever the repository's size.  Here only
    the data ranges are read (``SEEK_DATA``/``SEEK_HOLE``) and all-zero blocks become
    holes again, so an index costs what its content needs.
    """
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        position = 0
        while position < size:
            try:
                start = os.lseek(fin.fileno(), position, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # nothing but a hole up to the end
                    break
                start, end = position, size  # the file system cannot tell: read the rest
            else:
                end = os.lseek(fin.fileno(), start, os.SEEK_HOLE)
            for offset in range(start, end, SPARSE_BLOCK):
                block = os.pread(fin.fileno(), min(SPARSE_BLOCK, end - offset), offset)
                if block.count(0) != len(block):
                    os.pwrite(fout.fileno(), block, offset)
            position = end
        fout.truncate(size)
    shutil.copystat(src, dst)
    return dst


# ---------------------------------------------------------------------------- embedded (Qdrant Edge)

class EdgeWriter:
    """A private working copy of the current generation (see the module docstring)."""

    kind = "edge"

    def __init__(self, repo: Path, collection: str, dim: int, current: str | None) -> None:
        from qdrant_edge import (
            Distance,
            EdgeConfig,
            EdgeShard,
            EdgeVectorParams,
            PayloadSchemaType,
            UpdateOperation,
        )

        self.root = edge_root(repo) / collection
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob("*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        number = int(current.split("-")[1]) if current else 0
        self.current = current
        self.next_name = f"gen-{number + 1}"
        self.work = self.root / f"{self.next_name}.tmp"
        base = self.root / current if current else None
        if base is not None and base.is_dir():
            shutil.copytree(base, self.work, copy_function=copy_sparse)
            self.shard = EdgeShard.load(str(self.work))
        else:
            config = EdgeConfig(vectors=EdgeVectorParams(size=dim, distance=Distance.Cosine), wal_enabled=False)
            self.shard = EdgeShard.create(str(self.work), config)
            self.shard.update(UpdateOperation.create_field_index("path", PayloadSchemaType.Keyword))

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        from qdrant_edge import Point, UpdateOperation

        points = [Point(point_id(c.id), vectors[i].astype(np.float32).tolist(), payload(c))
                  for i, c in enumerate(chunks)]
        if points:
            self.shard.update(UpdateOperation.upsert_points(points))

    def delete(self, chunk_ids: Sequence[str]) -> None:
        from qdrant_edge import UpdateOperation

        if chunk_ids:
            self.shard.update(UpdateOperation.delete_points([point_id(c) for c in chunk_ids]))

    def count(self) -> int:
        from qdrant_edge import CountRequest

        return int(self.shard.count(CountRequest()))

    def publish(self) -> dict[str, Any]:
        """Flush, close and rename the working copy; returns the state fields to commit."""
        self.shard.flush()
        self.shard.close()
        final = self.root / self.next_name
        if final.exists():
            shutil.rmtree(final)
        os.replace(self.work, final)
        return {"store": "edge", "snapshot": self.next_name}

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.shard.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def cleanup(self, keep: Sequence[str]) -> None:
        """Delete generations other than ``keep`` (the new one and the one readers may still hold)."""
        for entry in self.root.iterdir():
            if entry.is_dir() and entry.name.startswith("gen-") and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)


class EdgeReader:
    """A published generation, opened for search.

    Qdrant Edge maps its files read-write even to search, so in a read-only checkout the
    generation is first copied (sparsely: a few MB) to a private temporary directory.
    """

    def __init__(self, path: Path) -> None:
        from qdrant_edge import EdgeShard

        if not path.is_dir():
            raise RetrievalError(f"vector snapshot {path} is missing", hint="run `repo-assistant index`")
        self.scratch: Path | None = None
        try:
            self.shard = EdgeShard.load(str(path))
        except Exception:
            if os.access(path, os.W_OK):
                raise
            import tempfile

            self.scratch = Path(tempfile.mkdtemp(prefix="repo-assistant-vectors-"))
            try:
                shutil.copytree(path, self.scratch / path.name, copy_function=copy_sparse)
                self.shard = EdgeShard.load(str(self.scratch / path.name))
            except BaseException:
                shutil.rmtree(self.scratch, ignore_errors=True)
                raise

    def search(self, vector: Sequence[float], k: int, paths: Sequence[str] | None) -> list[tuple[str, float]]:
        from qdrant_edge import FieldCondition, Filter, MatchAny, Query, QueryRequest

        query_filter = Filter(must=[FieldCondition("path", match=MatchAny(list(paths)))]) if paths else None
        hits = self.shard.query(QueryRequest(limit=k, query=Query.Nearest(list(vector)), with_payload=True,
                                             filter=query_filter))
        return [(h.payload["chunk_id"], float(h.score)) for h in hits if h.payload]

    def close(self) -> None:
        self.shard.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


# ---------------------------------------------------------------------------- server (qdrant-client)

def make_client(url: str, api_key: str = "") -> Any:
    """A qdrant-client for ``http(s)://…`` (server/cluster) or ``local:DIR`` (qdrant-client local mode)."""
    from qdrant_client import QdrantClient

    key = api_key or os.environ.get("QDRANT_API_KEY") or None
    try:
        if url.startswith("local:"):
            return QdrantClient(path=url[len("local:"):])
        return QdrantClient(url=url, api_key=key, timeout=30)
    except Exception as exc:
        raise IndexingError(f"cannot open Qdrant at {url} ({type(exc).__name__}: {exc})") from exc


class ServerWriter:
    """Writes straight into a collection on a Qdrant server (or qdrant-client local mode)."""

    kind = "server"

    def __init__(self, url: str, api_key: str, collection: str, dim: int, reset: bool = False) -> None:
        from qdrant_client import models

        self.url = url
        self.collection = collection
        self.client = make_client(url, api_key)
        try:
            if reset and self.client.collection_exists(collection):
                self.client.delete_collection(collection)  # vectors of another embedder flavour: start clean
            if not self.client.collection_exists(collection):
                self.client.create_collection(
                    collection, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # local mode says payload indexes are a no-op there
                    self.client.create_payload_index(collection, "path", models.PayloadSchemaType.KEYWORD)
        except Exception as exc:
            raise IndexingError(f"Qdrant at {url}: cannot prepare collection {collection} "
                                f"({type(exc).__name__}: {exc})") from exc

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        from qdrant_client import models

        points = [models.PointStruct(id=point_id(c.id), vector=vectors[i].astype(np.float32).tolist(),
                                     payload=payload(c)) for i, c in enumerate(chunks)]
        if points:
            self.client.upsert(self.collection, points=points, wait=True)

    def delete(self, chunk_ids: Sequence[str]) -> None:
        from qdrant_client import models

        if chunk_ids:
            self.client.delete(self.collection, points_selector=models.PointIdsList(
                points=[point_id(c) for c in chunk_ids]), wait=True)

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def publish(self) -> dict[str, Any]:
        self.client.close()
        return {"store": "server", "url": self.url}

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    def cleanup(self, keep: Sequence[str]) -> None:
        return None


class ServerReader:
    """Searches a collection on a Qdrant server.

    ``client`` is one the caller owns and keeps open (the index reader shares one client per
    URL between the vector and the keyword search: qdrant-client's local mode lets only one
    client at a time open its directory).
    """

    def __init__(self, url: str, api_key: str, collection: str, client: Any = None) -> None:
        self.owns_client = client is None
        self.client = make_client(url, api_key) if client is None else client
        self.collection = collection

    def search(self, vector: Sequence[float], k: int, paths: Sequence[str] | None) -> list[tuple[str, float]]:
        from qdrant_client import models

        query_filter = models.Filter(must=[models.FieldCondition(key="path", match=models.MatchAny(
            any=list(paths)))]) if paths else None
        try:
            result = self.client.query_points(self.collection, query=list(vector), limit=k,
                                              query_filter=query_filter, with_payload=True)
        except Exception as exc:
            raise RetrievalError(f"Qdrant search failed ({type(exc).__name__}: {exc})") from exc
        return [(p.payload["chunk_id"], float(p.score)) for p in result.points if p.payload]

    def close(self) -> None:
        if self.owns_client:
            self.client.close()


def open_writer(repo: Path, settings: IndexSettings, collection: str, dim: int,
                state: dict[str, Any] | None, reset: bool = False) -> EdgeWriter | ServerWriter:
    """A writer for the configured store; ``reset`` drops what a server collection holds."""
    if settings.qdrant_url:
        return ServerWriter(settings.qdrant_url, settings.qdrant_api_key, collection, dim, reset=reset)
    current = state.get("snapshot") if state and state.get("store") == "edge" and \
        state.get("collection") == collection else None
    return EdgeWriter(repo, collection, dim, current)


def open_reader_store(repo: Path, state: dict[str, Any], settings: IndexSettings,
                      client_for: Any = None) -> EdgeReader | ServerReader:
    """The store a committed ``vector_state`` points at; ``client_for(url)`` lends a shared server client."""
    if state.get("store") == "server":
        client = client_for(state["url"]) if client_for is not None else None
        return ServerReader(state["url"], settings.qdrant_api_key, state["collection"], client)
    return EdgeReader(edge_root(repo) / state["collection"] / state["snapshot"])
