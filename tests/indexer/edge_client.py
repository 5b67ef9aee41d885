"""The part of qdrant-client's API the keyword side uses, answered by Qdrant Edge (the engine itself).

qdrant-client's local mode (``local:DIR``) re-implements Qdrant's search in Python; a
server runs the Rust engine of Qdrant's ``segment`` crate, and Qdrant Edge (the
``qdrant-edge-py`` wheel this project already ships for its local vectors) embeds that
same engine in-process.  No server binary can be installed on these machines, so this
adapter lets the keyword tests run through the real engine's sparse index and scoring:
``edge:DIR`` holds one Edge shard per collection under ``DIR``.  What it cannot cover is
the HTTP/gRPC transport and a cluster's distribution of the shards.

Only the calls :mod:`indexer.keyword_points` and the tests make are translated; anything
else raises ``AttributeError``, so new uses cannot silently bypass the engine.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "edge:"


@dataclass
class _Count:
    count: int


@dataclass
class _Hit:
    id: Any
    score: float
    payload: dict[str, Any] | None


@dataclass
class _Result:
    points: list[_Hit]


class EdgeClient:
    """``edge:DIR``: collections are Edge shards in ``DIR/<name>``, opened on first use, flushed on close."""

    def __init__(self, url: str) -> None:
        self.root = Path(url[len(PREFIX):])
        self.root.mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, Any] = {}

    def _shard(self, name: str) -> Any:
        from qdrant_edge import EdgeShard

        if name not in self._shards:
            if not (self.root / name).is_dir():
                raise ValueError(f"Collection {name} not found")
            self._shards[name] = EdgeShard.load(str(self.root / name))
        return self._shards[name]

    def collection_exists(self, name: str) -> bool:
        return (self.root / name).is_dir()

    def delete_collection(self, name: str) -> None:
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        shutil.rmtree(self.root / name, ignore_errors=True)

    def create_collection(self, name: str, vectors_config: Any, sparse_vectors_config: dict[str, Any]) -> None:
        from qdrant_edge import EdgeConfig, EdgeShard, EdgeSparseVectorParams

        assert not vectors_config, "the keyword collection holds sparse vectors only"
        for params in sparse_vectors_config.values():
            assert params.modifier is None, "the adapter translates modifier-free sparse vectors only"
        config = EdgeConfig(sparse_vectors={key: EdgeSparseVectorParams() for key in sparse_vectors_config})
        self._shards[name] = EdgeShard.create(str(self.root / name), config)

    def create_payload_index(self, name: str, field: str, schema: Any) -> None:
        from qdrant_edge import PayloadSchemaType, UpdateOperation

        assert str(schema).lower().endswith("keyword"), schema
        self._shard(name).update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))

    def upsert(self, name: str, points: list[Any], wait: bool = True) -> None:
        from qdrant_edge import Point, SparseVector, UpdateOperation

        edge_points = [Point(str(p.id), {key: SparseVector(list(v.indices), list(v.values))
                                         for key, v in p.vector.items()}, dict(p.payload or {}))
                       for p in points]
        self._shard(name).update(UpdateOperation.upsert_points(edge_points))

    def delete(self, name: str, points_selector: Any, wait: bool = True) -> None:
        from qdrant_edge import UpdateOperation

        self._shard(name).update(UpdateOperation.delete_points([str(p) for p in points_selector.points]))

    def count(self, name: str, exact: bool = True) -> _Count:
        from qdrant_edge import CountRequest

        return _Count(int(self._shard(name).count(CountRequest(exact=exact))))

    def scroll(self, name: str, limit: int = 10, offset: Any = None,
               with_payload: bool = True) -> tuple[list[Any], Any]:
        from qdrant_edge import ScrollRequest

        return self._shard(name).scroll(ScrollRequest(offset=offset, limit=limit, with_payload=with_payload))

    def query_points(self, name: str, query: Any, using: str, limit: int,
                     with_payload: Any = True) -> _Result:
        from qdrant_edge import Query, QueryRequest, SparseVector

        hits = self._shard(name).query(QueryRequest(
            limit=limit, query=Query.Nearest(SparseVector(list(query.indices), list(query.values)), using=using),
            with_payload=with_payload))
        return _Result([_Hit(h.id, float(h.score), h.payload) for h in hits])

    def close(self) -> None:
        for shard in self._shards.values():
            shard.flush()
            shard.close()
        self._shards.clear()
