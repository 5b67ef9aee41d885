"""Hybrid search with the real embedder (all-MiniLM-L6-v2, one thread) on sample_repo/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from base.config import IndexSettings, RetrievalSettings
from retrieval.localize import localize
from retrieval.search import effective_mode, search
from tests.conftest import SAMPLE_REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from indexer.pipeline import index_repository
    from indexer.reader import IndexReader

    repo = tmp_path_factory.mktemp("hybrid") / "sample_repo"
    shutil.copytree(SAMPLE_REPO, repo, ignore=shutil.ignore_patterns(".repo-assistant", "__pycache__"))
    settings = IndexSettings(embeddings=True, threads=1)
    index_repository(repo, settings, embeddings=True)
    opened = IndexReader.open(repo, settings)
    yield opened
    opened.close()


def test_hybrid_fuses_both_rankings(reader: object) -> None:
    assert effective_mode(reader, "hybrid") == ("hybrid", None)
    hits = search(reader, "where is the price of an order computed?", k=5, mode="hybrid")
    assert "shopcore/pricing/calculator.py" in [h.path for h in hits[:3]]
    assert any("vector" in h.sources and "bm25" in h.sources for h in hits)


def test_vector_mode_finds_code_without_shared_words(reader: object) -> None:
    # A paraphrase ("levy" for tax, "country" for region): the embedding connects them.
    hits = search(reader, "sales levy percentage by country", k=5, mode="vector")
    assert all(set(h.sources) == {"vector"} for h in hits)
    assert "shopcore/pricing/tax.py" in [h.path for h in hits]


def test_vector_weight_zero_is_bm25(reader: object) -> None:
    off = RetrievalSettings(vector_weight=0.0)
    fused = search(reader, "reserve stock for an order", k=5, mode="hybrid", settings=off)
    plain = search(reader, "reserve stock for an order", k=5, mode="bm25")
    assert [h.chunk.id for h in fused] == [h.chunk.id for h in plain]


def test_hybrid_localization(reader: object) -> None:
    issue = (SAMPLE_REPO / "ISSUES" / "004-cannot-order-last-units-in-stock.md").read_text()
    paths = localize(reader, issue, k=5, mode="hybrid").paths()
    assert "shopcore/inventory/reservations.py" in paths or "shopcore/inventory/stock.py" in paths
