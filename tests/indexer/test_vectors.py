"""Vectors: the ONNX embedder matches torch, and the Qdrant stores round-trip points, payloads, deletions.

These load the real all-MiniLM-L6-v2 (1 thread) and write real Qdrant data: the embedded
Qdrant Edge store, and the qdrant-client code path used for ``--qdrant-url`` (run here
against qdrant-client's local mode, ``local:DIR``, which speaks the same client API: no
Qdrant server binary is available offline).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from base.config import IndexSettings
from indexer import store
from indexer.pipeline import index_repository
from indexer.reader import IndexReader
from indexer.vectors import point_id

pytestmark = pytest.mark.slow


def test_onnx_vectors_match_sentence_transformers() -> None:
    from sentence_transformers import SentenceTransformer

    from indexer.embedder import load_embedder, resolve_model_path
    from indexer.onnx_export import verification_sample

    embedder = load_embedder("all-MiniLM-L6-v2", backend="auto", threads=1, max_tokens=256)
    assert embedder.flavour.startswith("onnx")
    texts = [*verification_sample()[:10], "def apply_discount(order, coupon):\n    return order.total - coupon"]
    ours = embedder.embed(texts, batch_size=4)  # mixed lengths in one batch: padding must not change vectors
    reference = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu").encode(
        texts, normalize_embeddings=True)
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    # int8 dynamic quantisation scales activations per batch, so a text embedded alone (a query)
    # differs slightly from the same text embedded among others; it must stay within the same bound
    single = embedder.embed_query(texts[3])
    assert float(single @ reference[3]) >= 0.99


def test_smoothing_is_exact_in_fp32_and_narrows_the_outlier_channels(tmp_path: Path) -> None:
    """SmoothQuant rewrites weights and inserts per-channel Muls: in fp32 the vectors must not move,
    while the feed-forward input's widest channel shrinks (what int8 gains from it)."""
    import numpy as np
    import onnx

    from indexer.embedder import OnnxEmbedder, load_embedder, resolve_model_path
    from indexer.onnx_export import (
        _activation_maxima,
        _smooth,
        _smoothable,
        calibration_sample,
        verification_sample,
    )

    shipped = load_embedder("all-MiniLM-L6-v2", backend="auto", threads=1)
    assert isinstance(shipped, OnnxEmbedder)
    fp32 = shipped.onnx_path.with_name("model.onnx")
    model_dir = Path(resolve_model_path("all-MiniLM-L6-v2"))
    smoothed = tmp_path / "smoothed.onnx"
    count = _smooth(fp32, smoothed, model_dir, calibration_sample()[:40], 0.7)
    assert count == 18  # 6 layers x (attention input, feed-forward in, feed-forward out)
    texts = verification_sample()[:24]
    plain = OnnxEmbedder("plain", model_dir, fp32, "onnx-fp32", 1, 128).embed(texts)
    ours = OnnxEmbedder("smoothed", model_dir, smoothed, "onnx-fp32", 1, 128).embed(texts)
    assert float((plain * ours).sum(axis=1).min()) >= 0.9999
    graph = onnx.load(str(smoothed), load_external_data=False).graph
    assert sum(n.op_type == "Mul" and n.name.endswith("/smooth") for n in graph.node) == 18
    assert not any(n.op_type in ("SkipLayerNormalization", "BiasGelu") for n in graph.node)
    ffn_out = next(name for name, (x, _) in _smoothable(onnx.load(str(fp32)).graph).items()
                   if "layer.0/output/dense" in name)
    before = _activation_maxima(fp32, model_dir, texts, [_smoothable(onnx.load(str(fp32)).graph)[ffn_out][0]])
    after = _activation_maxima(smoothed, model_dir, texts, [f"{ffn_out}/smoothed_input"])
    assert np.max(next(iter(after.values()))) < 0.5 * np.max(next(iter(before.values())))


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pricing.py").write_text("def round_price(amount):\n    return round(amount, 2)\n\n\n"
                                     "def vat(amount):\n    return amount * 0.2\n")
    (repo / "stock.py").write_text("def reserve_stock(item, qty):\n    item.reserved += qty\n")
    return repo


def _points(repo: Path, state: dict) -> dict[str, dict]:
    if state["store"] == "edge":
        from qdrant_edge import EdgeShard, ScrollRequest

        shard = EdgeShard.load(str(repo / ".repo-assistant" / "index" / "qdrant" / state["collection"]
                                   / state["snapshot"]))
        records, _ = shard.scroll(ScrollRequest(limit=1000, with_payload=True))
        shard.close()
        return {str(r.id): dict(r.payload) for r in records}
    from indexer.vectors import make_client

    client = make_client(state["url"])
    records, _ = client.scroll(state["collection"], limit=1000, with_payload=True)
    client.close()
    return {str(r.id): dict(r.payload) for r in records}


@pytest.mark.parametrize("where", ["edge", "server"])
def test_vector_store_round_trip(tmp_path: Path, where: str) -> None:
    repo = _repo(tmp_path)
    settings = IndexSettings(threads=1)
    if where == "server":
        settings.qdrant_url = f"local:{tmp_path / 'qdrant-local'}"
    stats = index_repository(repo, settings)
    assert stats.vector_points == stats.chunks_total == stats.chunks_embedded == 3
    with IndexReader.open(repo, settings) as reader:
        state = reader.meta("vector_state")
        points = _points(repo, state)
        chunks = {c.id: c for c in reader.chunks()}
        assert set(points) == {point_id(cid) for cid in chunks}
        for cid, chunk in chunks.items():
            assert points[point_id(cid)] == {
                "chunk_id": cid, "path": chunk.path, "symbol": chunk.symbol, "kind": chunk.kind,
                "start_line": chunk.start_line, "end_line": chunk.end_line, "language": chunk.language,
                "content_hash": chunk.content_hash}
        hits = reader.vector_search("reserve items in the warehouse", k=3)
        assert hits[0][0].symbol == "reserve_stock"
        only = reader.vector_search("reserve items in the warehouse", k=3, paths=["pricing.py"])
        assert {c.path for c, _ in only} == {"pricing.py"}

    # change one file, delete another: old points go, unchanged content is not re-embedded
    (repo / "pricing.py").write_text("def round_price(amount):\n    return round(amount, 2)\n\n\n"
                                     "def vat(amount, rate):\n    return amount * rate\n")
    os.utime(repo / "pricing.py", ns=(1, 1))
    (repo / "stock.py").unlink()
    stats = index_repository(repo, settings)
    assert stats.chunks_total == stats.vector_points == 2
    assert stats.chunks_embedded == 1 and stats.vectors_reused == 0  # round_price kept its chunk id: untouched
    with IndexReader.open(repo, settings) as reader:
        state = reader.meta("vector_state")
        points = _points(repo, state)
        assert set(points) == {point_id(c.id) for c in reader.chunks()}
        assert all(p["path"] == "pricing.py" for p in points.values())
        assert reader.vector_search("value added tax rate", k=1)[0][0].symbol == "vat"
        if where == "server":
            return
        # a re-run with nothing to do neither copies nor rewrites the store
        snapshot = state["snapshot"]
    stats = index_repository(repo, settings)
    conn = store.connect(store.db_path(repo))
    assert store.get_meta(conn, "vector_state")["snapshot"] == snapshot and stats.chunks_embedded == 0
    conn.close()


def test_vector_cache_avoids_re_embedding_moved_code(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    settings = IndexSettings(threads=1)
    index_repository(repo, settings)
    path = repo / "pricing.py"
    path.write_text('"""Pricing helpers."""\nimport math\n\n\n' + path.read_text())
    os.utime(path, ns=(1, 1))
    stats = index_repository(repo, settings)
    # both functions moved down (new chunk ids, same text): their vectors come from the cache;
    # only the new module-level chunk is embedded
    assert (stats.chunks_embedded, stats.vectors_reused, stats.vector_points) == (1, 2, 4)
    with IndexReader.open(repo, settings) as reader:
        hit = reader.vector_search("round a price to cents", k=1)[0][0]
        assert (hit.symbol, hit.start_line) == ("round_price", 5)


def test_shared_cache_lets_a_second_clone_skip_the_model(tmp_path: Path) -> None:
    import shutil

    import numpy as np

    first = _repo(tmp_path)
    settings = IndexSettings(threads=1)
    assert index_repository(first, settings).chunks_embedded == 3
    clone = tmp_path / "clone"
    shutil.copytree(first, clone, ignore=shutil.ignore_patterns(".repo-assistant"))
    stats = index_repository(clone, settings)
    assert (stats.chunks_embedded, stats.vectors_reused, stats.vector_points) == (0, 3, 3)
    with IndexReader.open(first, settings) as a, IndexReader.open(clone, settings) as b:
        hit_a, score_a = a.vector_search("reserve items in the warehouse", k=1)[0]
        hit_b, score_b = b.vector_search("reserve items in the warehouse", k=1)[0]
        assert hit_a.symbol == hit_b.symbol == "reserve_stock"
        assert np.isclose(score_a, score_b)
    # turned off, a third clone embeds everything itself
    third = tmp_path / "third"
    shutil.copytree(first, third, ignore=shutil.ignore_patterns(".repo-assistant"))
    off = IndexSettings(threads=1, shared_vector_cache_mb=0)
    assert index_repository(third, off).chunks_embedded == 3


def test_shared_cache_is_bounded_and_never_breaks_indexing(tmp_path: Path) -> None:
    from indexer.vector_cache import SharedVectorCache, shared_cache_dir

    cache = SharedVectorCache(tmp_path / "bounded", max_mb=1)  # ~590 vectors
    rows = [(f"k{i}", bytes(1536)) for i in range(1000)]
    cache.put_many(rows[:600])
    cache.put_many(rows[600:])
    kept = cache.get_many([k for k, _ in rows])
    assert len(kept) == cache.max_rows and "k999" in kept and "k0" not in kept  # the oldest went first
    cache.close()

    # an unusable cache file is a logged miss, not a failed run
    directory = shared_cache_dir()
    directory.mkdir(parents=True)
    (directory / "vectors.sqlite").write_bytes(b"this is not a database" * 100)
    repo = _repo(tmp_path)
    stats = index_repository(repo, IndexSettings(threads=1))
    assert stats.chunks_embedded == stats.vector_points == 3
