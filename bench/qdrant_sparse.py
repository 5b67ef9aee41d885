"""Does BM25 held as Qdrant sparse vectors rank like our BM25?  Top-10 agreement.

    .venv/bin/python bench/qdrant_sparse.py REPO [--queries 40] [--limit-chunks 0]

REPO must already be indexed (``repo-assistant index REPO --no-embeddings``).  Every chunk
becomes a sparse vector of BM25 term weights ``tf·(k1+1) / (tf + k1·(1-b+b·|d|/avgdl))``
(computed here, as Qdrant's docs prescribe), stored with ``Modifier.IDF`` in qdrant-client's
local mode; a query is its term counts.  Qdrant multiplies by its own idf,
``ln((N - df + 0.5)/(df + 0.5) + 1)`` — always positive, no epsilon floor — where
BM25Okapi uses ``ln((N - df + 0.5)/(df + 0.5))`` floored at ``0.25·mean(idf)``.  The table
reports the top-10 overlap with our index and the same overlap after re-scoring ours with
Qdrant's idf (which isolates the idf difference from everything else).  A second collection
holds the same weights without a modifier, and its queries carry BM25Okapi's idf (from our
document frequencies) as their values: the score is then ours, term for term.

Local mode is Python.  The last rows run the product's own points and queries
(:func:`indexer.keyword_points.sparse_weights` / ``query_weights``) through Qdrant Edge, the
Rust engine a server runs, in-process: top-10 agreement and score difference against the
local BM25, upload rate and query latency against the local postings (``--no-edge`` skips
them, ``--edge-only`` runs only them: local mode takes seconds per query on 400K points).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from base.config import IndexSettings  # noqa: E402
from indexer.bm25 import K1, B  # noqa: E402
from indexer.pipeline import bm25_tokens  # noqa: E402
from indexer.reader import IndexReader  # noqa: E402
from indexer.tokenize import code_tokens  # noqa: E402

PHRASES = ["parse the header", "open a socket connection", "read configuration file", "encode json string",
           "retry on timeout", "decimal rounding", "thread lock acquire", "format date time",
           "walk directory tree", "compress data stream"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--no-edge", action="store_true", help="skip the Qdrant Edge rows")
    parser.add_argument("--edge-only", action="store_true", help="only the Qdrant Edge rows")
    args = parser.parse_args()
    from qdrant_client import QdrantClient, models

    reader = IndexReader.open(args.repo.resolve(), IndexSettings(embeddings=False))
    chunks = list(reader.chunks())
    rng = random.Random(0)
    named = [c.symbol.rsplit(".", 1)[-1] for c in chunks if c.symbol]
    queries = PHRASES + [name.replace("_", " ") for name in rng.sample(named, max(0, args.queries - len(PHRASES)))]
    if args.edge_only:
        edge_rows(reader, queries)
        return
    t = time.perf_counter()
    docs = [Counter(bm25_tokens(c)) for c in chunks]
    lengths = [sum(d.values()) for d in docs]
    avgdl = sum(lengths) / len(lengths)
    vocab: dict[str, int] = {}
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
        for term in d:
            vocab.setdefault(term, len(vocab))
    print(f"{len(chunks)} chunks tokenized in {time.perf_counter() - t:.1f} s", file=sys.stderr)

    client = QdrantClient(":memory:")
    client.create_collection("bm25", vectors_config={},
                             sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)})
    # The same term weights without a modifier: the idf goes into the query vector instead, computed
    # from our own document frequencies with BM25Okapi's formula (epsilon floor included).
    client.create_collection("bm25_query_idf", vectors_config={},
                             sparse_vectors_config={"bm25": models.SparseVectorParams()})
    t = time.perf_counter()
    batch: list[models.PointStruct] = []
    for i, (d, length) in enumerate(zip(docs, lengths, strict=True)):
        norm = K1 * (1 - B + B * length / avgdl)
        indices = [vocab[term] for term in d]
        values = [tf * (K1 + 1) / (tf + norm) for tf in d.values()]
        batch.append(models.PointStruct(id=i, vector={"bm25": models.SparseVector(indices=indices, values=values)}))
        if len(batch) == 2000:
            client.upsert("bm25", batch, wait=True)
            client.upsert("bm25_query_idf", batch, wait=True)
            batch = []
    if batch:
        client.upsert("bm25", batch, wait=True)
        client.upsert("bm25_query_idf", batch, wait=True)
    upsert_s = time.perf_counter() - t

    n = len(docs)
    okapi_idf = {term: math.log((n - f + 0.5) / (f + 0.5)) for term, f in df.items()}
    floor = 0.25 * sum(okapi_idf.values()) / len(okapi_idf)
    index_of = {c.id: i for i, c in enumerate(chunks)}
    agree: list[float] = []
    agree_query_idf: list[float] = []
    agree_same_idf: list[float] = []
    ours_ms: list[float] = []
    qdrant_ms: list[float] = []
    for query in queries:
        counts = Counter(t for t in code_tokens(query) if t in vocab)
        if not counts:
            continue
        t = time.perf_counter()
        ours = [index_of[c.id] for c, _ in reader.bm25_search(query, 10)]
        ours_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        hits = client.query_points("bm25", query=models.SparseVector(
            indices=[vocab[term] for term in counts], values=[float(v) for v in counts.values()]),
            using="bm25", limit=10).points
        qdrant_ms.append((time.perf_counter() - t) * 1000)
        theirs = [int(h.id) for h in hits]
        agree.append(len(set(ours) & set(theirs)) / max(1, min(10, len(ours))))
        weighted = client.query_points("bm25_query_idf", query=models.SparseVector(
            indices=[vocab[term] for term in counts],
            values=[v * (okapi_idf[term] if okapi_idf[term] >= 0 else floor) for term, v in counts.items()]),
            using="bm25", limit=10).points
        agree_query_idf.append(len(set(ours) & {int(h.id) for h in weighted}) / max(1, min(10, len(ours))))
        # our term weights with Qdrant's idf: does the idf alone explain the difference?
        scores: Counter[int] = Counter()
        for term, q in counts.items():
            idf = math.log((n - df[term] + 0.5) / (df[term] + 0.5) + 1)
            for i, d in enumerate(docs):
                tf = d.get(term)
                if tf:
                    scores[i] += q * idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[i] / avgdl))
        emulated = [i for i, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
        agree_same_idf.append(len(set(emulated) & set(theirs)) / max(1, min(10, len(theirs))))
    print(f"\nBM25 vs Qdrant sparse vectors (Modifier.IDF, qdrant-client local mode) on {args.repo}")
    print(f"  chunks                                  {n}")
    print(f"  queries                                 {len(agree)}")
    print(f"  top-10 agreement, ours vs Qdrant        mean {statistics.mean(agree):.1%}, "
          f"min {min(agree):.0%}, all ten same in {sum(a == 1 for a in agree)} of {len(agree)}")
    print(f"  ... ours re-scored with Qdrant's idf    mean {statistics.mean(agree_same_idf):.1%}")
    print(f"  no modifier, our idf in the query       mean {statistics.mean(agree_query_idf):.1%}, "
          f"min {min(agree_query_idf):.0%}, all ten same in {sum(a == 1 for a in agree_query_idf)} of "
          f"{len(agree_query_idf)}")
    print(f"  upsert (local mode)                     {n / upsert_s:.0f} points/s")
    print(f"  query p50: ours / Qdrant local          {statistics.median(ours_ms):.1f} ms / "
          f"{statistics.median(qdrant_ms):.1f} ms")
    client.close()
    if not args.no_edge:
        edge_rows(reader, queries)


def edge_rows(reader: IndexReader, queries: list[str]) -> None:
    """The product's points and queries in Qdrant Edge: same top 10 and scores as the local BM25?"""
    import tempfile

    from qdrant_edge import (
        EdgeConfig,
        EdgeShard,
        EdgeSparseVectorParams,
        Point,
        Query,
        QueryRequest,
        SparseVector,
        UpdateOperation,
    )

    from indexer import store
    from indexer.bm25 import Bm25Searcher, lookup_terms, vocab_ids
    from indexer.keyword_points import query_weights, sparse_weights

    conn = reader._conn
    conn.execute("BEGIN")
    try:
        avgdl = Bm25Searcher(conn).avgdl
        ids = [row[0] for row in conn.execute("SELECT chunk_id FROM bm25_docs")]
    finally:
        conn.execute("COMMIT")
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        shard = EdgeShard.create(f"{tmp}/bm25", EdgeConfig(sparse_vectors={"bm25": EdgeSparseVectorParams()},
                                                            wal_enabled=False))
        t = time.perf_counter()
        for start in range(0, len(ids), 2000):
            part = ids[start:start + 2000]
            found = store.fetch_chunks(conn, part)
            chunks = [found[c] for c in part if c in found]
            tokens = [bm25_tokens(c) for c in chunks]
            vocab = vocab_ids(conn, (term for doc in tokens for term in doc))
            points = []
            for chunk, doc in zip(chunks, tokens, strict=True):
                indices, values = sparse_weights(doc, vocab, avgdl)
                points.append(Point(start + len(points), {"bm25": SparseVector(indices, values)},
                                    {"chunk_id": chunk.id}))
            shard.update(UpdateOperation.upsert_points(points))
        shard.flush()
        shard.optimize()
        upload_s = time.perf_counter() - t
        same = 0
        worst = 0.0
        local_ms: list[float] = []
        edge_ms: list[float] = []
        for query in queries:
            conn.execute("BEGIN")
            try:
                terms = lookup_terms(conn, code_tokens(query))
                t = time.perf_counter()
                local = Bm25Searcher(conn).top(conn, terms, 10)
                local_ms.append((time.perf_counter() - t) * 1000)
                indices, values = query_weights(conn, terms)
            finally:
                conn.execute("COMMIT")
            if not indices:
                continue
            t = time.perf_counter()
            hits = shard.query(QueryRequest(limit=20, query=Query.Nearest(SparseVector(indices, values), using="bm25"),
                                            with_payload=True))
            edge_ms.append((time.perf_counter() - t) * 1000)
            scores = {h.payload["chunk_id"]: float(h.score) for h in hits if h.payload}
            top = sorted(scores, key=lambda cid: -scores[cid])[:10]
            # the same ten, or the same scores where ties at the tenth place picked other members
            same += set(top) == {cid for cid, _ in local} or all(
                abs(scores.get(cid, -1.0) - score) <= 1e-4 * score for cid, score in local)
            worst = max([worst] + [abs(scores[cid] - score) / score for cid, score in local if cid in scores])
        shard.close()
        size = sum(f.stat().st_blocks * 512 for f in Path(tmp).rglob("*") if f.is_file())  # allocated
    print("\nThe product's points in Qdrant Edge (the engine a Qdrant server runs), no modifier")
    print(f"  top-10 same as our BM25                 {same} of {len(edge_ms)} queries, "
          f"largest score difference {worst:.1e} (relative)")
    print(f"  upload (tokenize + weights + upsert)    {len(ids) / upload_s:.0f} points/s, "
          f"{upload_s:.0f} s for {len(ids)}; shard {size / 2**20:.0f} MiB on disk")
    print(f"  query p50 / p90: ours                   {statistics.median(local_ms):.1f} / "
          f"{sorted(local_ms)[int(0.9 * len(local_ms))]:.1f} ms")
    print(f"  query p50 / p90: Qdrant Edge            {statistics.median(edge_ms):.1f} / "
          f"{sorted(edge_ms)[int(0.9 * len(edge_ms))]:.1f} ms")


if __name__ == "__main__":
    main()
