"""The keyword side in Qdrant: BM25 kept as sparse vectors in the server of ``index.qdrant_url``.

With ``index.qdrant_keywords`` a team's monorepo can live in one Qdrant server or cluster
that many assistants query, vectors and keywords alike.  The scores are ours, not
Qdrant's: ``bench/qdrant_sparse.py`` measured that Qdrant's own IDF modifier
(``ln(1 + (N - df + 0.5)/(df + 0.5))``, no epsilon floor) ranks differently, while points
holding BM25's document half and a query holding BM25Okapi's idf agree on every top 10
(40 of 40 queries; the same in Qdrant Edge, the server's own engine, on 423K chunks).  So,
without a modifier:

* a point's value for term ``t`` is ``tf·(k1+1) / (tf + k1·(1 - b + b·|d|/avgdl))``;
* a query's value is ``repeats × idf`` from *this* index's document frequencies
  (:func:`indexer.bm25.okapi_idf`, the function the local search uses);

and the dot product Qdrant computes is the local BM25 score.

Document weights depend on ``avgdl``, the mean length of the live chunks.  Every point
holds weights for one ``avgdl``, the one of the last full upload (``keyword_state``), so
points of later incremental runs agree with the older ones; when the live ``avgdl``
has moved more than :data:`AVGDL_DRIFT` from it, the collection is recreated and
everything uploaded again.  Until then the server's scores differ from the local ones
by about that fraction at most.

Bookkeeping lives in SQLite next to BM25: ``kw_points`` lists the chunks that have a
point (committed after each batch, so an interrupted upload resumes), and meta
``keyword_state`` says where they are and which BM25 commit they match
(``bm25_changes``, counted by the pipeline).  A reader uses the server only while that
matches, so a run stopped between the BM25 commit and the upload, or a server error,
never serves a stale copy: the local postings, always complete, answer instead.
"""

from __future__ import annotations

import sqlite3
import threading
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from base.config import IndexSettings
from base.errors import AssistantError, ConfigError, IndexingError
from indexer import store
from indexer.bm25 import K1, B, Bm25Searcher, okapi_idf, query_stats, stored_df, vocab_ids
from indexer.progress import ProgressCallback, emit
from indexer.tokenize import bm25_tokens
from indexer.vectors import make_client, payload, point_id, repo_prefix

SPARSE = "bm25"  # the collection's one (sparse) vector
BATCH = 1000  # points per upsert
AVGDL_DRIFT = 0.02  # re-upload everything when the live mean chunk length moved more than this
CHANGES_KEY = "bm25_changes"  # meta: BM25 commits so far (the pipeline counts them)


def check_settings(settings: IndexSettings) -> None:
    """The keyword side needs a server: one clear line when it has none."""
    if settings.qdrant_keywords and not settings.qdrant_url:
        raise ConfigError("index.qdrant_keywords is on but index.qdrant_url is empty",
                          hint="set index.qdrant_url (--qdrant-url) to a Qdrant server, "
                               "or turn index.qdrant_keywords off")


def keyword_collection(repo: Path) -> str:
    """``ra_<repo name>_<path hash>_bm25``: one keyword collection per repository."""
    return f"{repo_prefix(repo)}_bm25"


def bm25_changes(conn: sqlite3.Connection) -> int:
    return int(store.get_meta(conn, CHANGES_KEY) or 0)


def count_bm25_change(conn: sqlite3.Connection) -> None:
    """Call inside each transaction that changes BM25: the Qdrant copy is stale until it catches up."""
    store.set_meta(conn, CHANGES_KEY, bm25_changes(conn) + 1)


def sparse_weights(tokens: Sequence[str], vocab: dict[str, int], avgdl: float) -> tuple[list[int], list[float]]:
    """A chunk's point: (term ids, BM25 term weights without idf) for documents of mean length ``avgdl``."""
    norm = K1 * (1 - B + B * len(tokens) / (avgdl or 1.0))
    counts = Counter(tokens)
    known = [(vocab[term], tf) for term, tf in counts.items() if term in vocab]
    return [tid for tid, _ in known], [tf * (K1 + 1) / (tf + norm) for _, tf in known]


def query_weights(conn: sqlite3.Connection, term_counts: dict[int, int]) -> tuple[list[int], list[float]]:
    """A query's sparse vector: repeats × BM25Okapi idf from the stored df, N and mean idf."""
    n_live, eps = query_stats(conn)
    df = stored_df(conn, term_counts)
    indices = [tid for tid in term_counts if df[tid] > 0]  # a term no live chunk holds scores nothing
    return indices, [term_counts[tid] * okapi_idf(df[tid], n_live, eps) for tid in indices]


def caught_up(conn: sqlite3.Connection, state: dict[str, Any] | None) -> bool:
    """Whether the server's copy described by ``state`` holds every committed BM25 change."""
    return bool(state) and state.get(CHANGES_KEY) == bm25_changes(conn)


def usable_state(conn: sqlite3.Connection, settings: IndexSettings) -> dict[str, Any] | None:
    """The ``keyword_state`` a reader may search: on, same server, and matching the committed BM25."""
    if not settings.qdrant_keywords or not settings.qdrant_url:
        return None
    state = store.get_meta(conn, "keyword_state")
    if not state or state.get("url") != settings.qdrant_url or not caught_up(conn, state):
        return None
    return state


def search(conn: sqlite3.Connection, client: Any, collection: str, term_counts: dict[int, int],
           k: int) -> list[tuple[str, float]]:
    """The ``k`` best (chunk id, score) pairs from the server, best first, ties in local index order.

    Call inside the caller's read transaction.  Equal scores are ordered as the local search
    orders them (by segment and position) so that both paths give the same list; a tie that
    crosses twice ``k`` may still pick other members than the local search.
    """
    from qdrant_client import models

    indices, values = query_weights(conn, term_counts)
    if not indices or k <= 0:
        return []
    result = client.query_points(collection, query=models.SparseVector(indices=indices, values=values),
                                 using=SPARSE, limit=2 * k, with_payload=["chunk_id"])
    scores = {p.payload["chunk_id"]: float(p.score) for p in result.points if p.payload and p.score > 0}
    if not scores:
        return []
    ids = list(scores)
    where: dict[str, tuple[int, int]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        where.update((cid, (int(seg), int(local))) for cid, seg, local in conn.execute(
            f"SELECT chunk_id, seg_id, local_idx FROM bm25_docs WHERE chunk_id IN ({','.join('?' * len(part))})",
            part))
    ranked = sorted((cid for cid in ids if cid in where), key=lambda cid: (-scores[cid], where[cid]))
    return [(cid, scores[cid]) for cid in ranked[:k]]


class KeywordSync:
    """Brings the server's keyword collection up to the committed BM25 (one indexing run)."""

    def __init__(self, conn: sqlite3.Connection, repo: Path, settings: IndexSettings,
                 progress: ProgressCallback | None, cancel: threading.Event) -> None:
        self.conn = conn
        self.repo = repo
        self.settings = settings
        self.progress = progress
        self.cancel = cancel
        self.url = settings.qdrant_url
        self.collection = keyword_collection(repo)
        self.recreated = False

    def run(self) -> int:
        """Upload and delete what changed; returns the points in the collection (stops early on cancel)."""
        check_settings(self.settings)
        try:
            return self._run()
        except AssistantError:
            raise
        except Exception as exc:
            raise IndexingError(f"Qdrant at {self.url}: cannot store the keyword index in {self.collection} "
                                f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})",
                                hint="BM25 is committed and searched locally until a run succeeds") from exc

    def _run(self) -> int:
        conn = self.conn
        client = make_client(self.url, self.settings.qdrant_api_key)
        try:
            state = store.get_meta(conn, "keyword_state")
            if caught_up(conn, state) and state.get("url") == self.url and \
                    state.get("collection") == self.collection and client.collection_exists(self.collection):
                return int(state.get("points") or 0)  # no BM25 change since: nothing to read or send
            conn.execute("BEGIN")  # the lengths, tombstones and live ids below are one snapshot
            try:
                live_avgdl = Bm25Searcher(conn).avgdl
                live = {row[0] for row in conn.execute("SELECT chunk_id FROM bm25_docs")}
            finally:
                conn.execute("COMMIT")
            same_place = bool(state) and state.get("url") == self.url and state.get("collection") == self.collection \
                and bool(state.get("avgdl")) and client.collection_exists(self.collection)
            full = not same_place or abs(live_avgdl / state["avgdl"] - 1) > AVGDL_DRIFT
            avgdl = live_avgdl if full else float(state["avgdl"])
            if full:
                self._recreate(client, avgdl)
            present = {row[0] for row in conn.execute("SELECT chunk_id FROM kw_points")}
            to_delete = sorted(present - live)
            to_add = sorted(live - present)
            self._delete(client, to_delete)
            emit(self.progress, "keywords", 0, len(to_add), "BM25 to Qdrant sparse vectors")
            for start in range(0, len(to_add), BATCH):
                if self.cancel.is_set():
                    break
                self._upsert(client, to_add[start:start + BATCH], avgdl)
                emit(self.progress, "keywords", min(start + BATCH, len(to_add)), len(to_add),
                     "BM25 to Qdrant sparse vectors")
            points = int(client.count(self.collection, exact=True).count)
            with store.transaction(conn):
                done = not self.cancel.is_set()
                store.set_meta(conn, "keyword_state", {
                    "url": self.url, "collection": self.collection, "avgdl": avgdl, "points": points,
                    CHANGES_KEY: bm25_changes(conn) if done else None})
            return points
        finally:
            client.close()

    def _recreate(self, client: Any, avgdl: float) -> None:
        """A fresh collection for weights of this ``avgdl``; readers fall back to local postings meanwhile."""
        from qdrant_client import models

        with store.transaction(self.conn):
            self.conn.execute("DELETE FROM kw_points")
            store.set_meta(self.conn, "keyword_state", {"url": self.url, "collection": self.collection,
                                                        "avgdl": avgdl, "points": 0, CHANGES_KEY: None})
        if client.collection_exists(self.collection):
            client.delete_collection(self.collection)
        client.create_collection(self.collection, vectors_config={},
                                 sparse_vectors_config={SPARSE: models.SparseVectorParams()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode says payload indexes are a no-op there
            client.create_payload_index(self.collection, "path", models.PayloadSchemaType.KEYWORD)
        self.recreated = True

    def _delete(self, client: Any, chunk_ids: list[str]) -> None:
        from qdrant_client import models

        for start in range(0, len(chunk_ids), BATCH):
            part = chunk_ids[start:start + BATCH]
            client.delete(self.collection, points_selector=models.PointIdsList(points=[point_id(c) for c in part]),
                          wait=True)
            with store.transaction(self.conn):
                self.conn.executemany("DELETE FROM kw_points WHERE chunk_id = ?", [(c,) for c in part])

    def _upsert(self, client: Any, chunk_ids: list[str], avgdl: float) -> None:
        from qdrant_client import models

        found = store.fetch_chunks(self.conn, chunk_ids)
        chunks = [found[c] for c in chunk_ids if c in found]
        tokens = [bm25_tokens(c) for c in chunks]
        vocab = vocab_ids(self.conn, (t for doc in tokens for t in doc))
        points = []
        for chunk, doc in zip(chunks, tokens, strict=True):
            indices, values = sparse_weights(doc, vocab, avgdl)
            points.append(models.PointStruct(id=point_id(chunk.id), payload=payload(chunk), vector={
                SPARSE: models.SparseVector(indices=indices, values=values)}))
        if points:
            client.upsert(self.collection, points=points, wait=True)
        with store.transaction(self.conn):
            self.conn.executemany("INSERT OR IGNORE INTO kw_points(chunk_id) VALUES (?)", [(c.id,) for c in chunks])
