"""Search, definitions, context and localization on a real BM25 index of sample_repo/.

The repository is copied and indexed once for the module (``embeddings=False``);
the hybrid test with the real embedder lives in ``test_hybrid.py``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.config import IndexSettings, RetrievalSettings
from base.errors import RetrievalError
from base.tokens import estimate_tokens
from retrieval.context import build_context
from retrieval.localize import _message_files, localization_context, localize
from retrieval.query import analyze_query
from retrieval.render import heading
from retrieval.repo_map import build_repo_map
from retrieval.search import aggregate_files, effective_mode, search
from retrieval.types import Target
from tests.conftest import SAMPLE_REPO


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    from indexer.pipeline import index_repository
    from indexer.reader import IndexReader

    repo = tmp_path_factory.mktemp("bm25") / "sample_repo"
    shutil.copytree(SAMPLE_REPO, repo, ignore=shutil.ignore_patterns(".repo-assistant", "__pycache__"))
    index_repository(repo, IndexSettings(embeddings=False), embeddings=False)
    reader = IndexReader.open(repo, IndexSettings())
    yield reader, repo
    reader.close()


def _paths(hits: list) -> list[str]:
    return [h.path for h in hits]


def test_question_finds_the_pricing_calculator(indexed: tuple) -> None:
    reader, _ = indexed
    hits = search(reader, "where is the price of an order computed?", k=5, mode="bm25")
    assert "shopcore/pricing/calculator.py" in _paths(hits)[:3]


@pytest.mark.parametrize(("question", "expected"), [
    ("how is VAT rounded to cents", "shopcore/pricing/tax.py"),
    ("reserve stock for an order", "shopcore/inventory/reservations.py"),
    ("sales report for a date range", "shopcore/reports.py"),
])
def test_realistic_questions(indexed: tuple, question: str, expected: str) -> None:
    reader, _ = indexed
    assert expected in _paths(search(reader, question, k=5, mode="bm25"))


def test_identifier_in_the_query_finds_its_definition_first(indexed: tuple) -> None:
    reader, _ = indexed
    hits = search(reader, "why does check_applicable fail for coupons", k=5, mode="bm25")
    top = hits[0]
    assert top.path == "shopcore/pricing/discounts.py" and top.symbol.endswith("check_applicable")
    assert "check_applicable" in top.matched and "symbol" in top.sources


def test_identifier_boost_beats_prose(indexed: tuple) -> None:
    reader, _ = indexed
    # Without recognising the name, the prose words ("order", "total") pull in everything about orders.
    hits = search(reader, "the order total is wrong after compute_order_total runs", k=3, mode="bm25")
    assert hits[0].symbol.endswith("compute_order_total")


def test_named_file_and_traceback_frame(indexed: tuple) -> None:
    reader, _ = indexed
    hits = search(reader, "something is off in shopcore/inventory/stock.py", k=3, mode="bm25")
    assert hits[0].path == "shopcore/inventory/stock.py"
    issue = (SAMPLE_REPO / "ISSUES" / "003-coupon-without-minimum-crashes-checkout.md").read_text()
    hits = search(reader, issue, k=5, mode="bm25")
    assert any(h.path == "shopcore/pricing/discounts.py" and h.start_line <= 113 <= h.end_line for h in hits)


def test_filters(indexed: tuple) -> None:
    reader, _ = indexed
    hits = search(reader, "total", k=10, mode="bm25", path_glob="shopcore/pricing/*")
    assert hits and all(h.path.startswith("shopcore/pricing/") for h in hits)
    hits = search(reader, "order", k=10, mode="bm25", path_glob="shopcore/models")
    assert hits and all(h.path.startswith("shopcore/models/") for h in hits)
    hits = search(reader, "order total", k=10, mode="bm25", language="typescript")
    assert hits and all(h.path.endswith(".ts") for h in hits)


def test_modes_without_vectors(indexed: tuple) -> None:
    reader, _ = indexed
    assert effective_mode(reader, "hybrid") == ("bm25", "the index has no vectors: hybrid search used BM25 only")
    with pytest.raises(RetrievalError, match="no vectors"):
        search(reader, "price", mode="vector")
    assert _paths(search(reader, "tax rounding", mode="hybrid")) == _paths(search(reader, "tax rounding",
                                                                                   mode="bm25"))
    with pytest.raises(RetrievalError, match="unknown search mode"):
        search(reader, "price", mode="fuzzy")


def test_file_aggregation(indexed: tuple) -> None:
    reader, _ = indexed
    files = aggregate_files(search(reader, "coupon discount minimum order", k=20, mode="bm25",
                                   path_glob="shopcore"))
    assert {f.path for f in files[:2]} == {"shopcore/pricing/calculator.py", "shopcore/pricing/discounts.py"}
    assert len({f.path for f in files}) == len(files)
    assert all(f.chunks == sorted(f.chunks, key=lambda h: -h.score) for f in files)


def test_definitions_resolve_across_modules(indexed: tuple) -> None:
    reader, repo = indexed
    # order_service.py line 116: `totals = compute_order_total(order)` (imported from pricing.calculator)
    ctx = build_context(reader, Target("shopcore/services/order_service.py", 116, 12), "", 3000,
                        estimate_tokens, repo=repo, settings=RetrievalSettings())
    defs = [i for i in ctx.items if i.kind == "definition"]
    assert any(i.path == "shopcore/pricing/calculator.py" and "definition of compute_order_total" in i.reason
               for i in defs), [(i.path, i.reason) for i in ctx.items]
    assert any(i.path == "shopcore/pricing/discounts.py" for i in defs)  # check_applicable, line 114
    assert ctx.tokens_used <= 3000
    assert "compute_order_total(order)" in ctx.suffix.splitlines()[0] or "compute_order_total" in ctx.prefix


def test_context_with_query_and_repo_map(indexed: tuple) -> None:
    reader, repo = indexed
    ctx = build_context(reader, Target("shopcore/reports.py", 20), "why are orders of the last day missing?",
                        16000, estimate_tokens, repo=repo, settings=RetrievalSettings())
    kinds = {i.kind for i in ctx.items}
    assert {"active-file", "repo-map", "search-hit"} <= kinds
    assert ctx.tokens_used == estimate_tokens(ctx.text) <= 16000
    assert "### shopcore/reports.py:" in ctx.text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["shopcore/services/order_service.py", "shopcore/pricing/calculator.py",
                          "clients/api_client.ts", "docs/pricing.md", "shopcore/__init__.py"]),
    line=st.one_of(st.none(), st.integers(1, 300)),
    budget=st.integers(0, 5000),
    query=st.sampled_from(["", "coupon minimum order", "compute_order_total", "stock"]),
)
def test_budget_never_exceeded_on_a_real_index(indexed: tuple, path: str, line: int | None, budget: int,
                                               query: str) -> None:
    reader, repo = indexed
    ctx = build_context(reader, Target(path, line, 0 if line else None), query, budget, estimate_tokens,
                        repo=repo, settings=RetrievalSettings())
    assert ctx.tokens_used == estimate_tokens(ctx.text) <= budget
    fim = estimate_tokens(ctx.other_text) + estimate_tokens(ctx.prefix) + estimate_tokens(ctx.suffix)
    assert fim <= budget


def test_repo_map_on_the_real_symbol_table(indexed: tuple) -> None:
    reader, _ = indexed
    text = build_repo_map(reader.symbols(), 400, estimate_tokens, ["shopcore/services/order_service.py"],
                          cache_key="test-real")
    assert 0 < estimate_tokens(text) <= 400
    assert "shopcore/pricing/calculator.py:" in text


@pytest.mark.parametrize(("issue", "gold"), [
    ("001-fixed-amount-coupon-vat-too-high.md", "shopcore/pricing/calculator.py"),
    ("003-coupon-without-minimum-crashes-checkout.md", "shopcore/pricing/discounts.py"),
    ("005-sales-report-misses-last-day.md", "shopcore/reports.py"),
])
def test_localize_sample_issues(indexed: tuple, issue: str, gold: str) -> None:
    reader, _ = indexed
    result = localize(reader, (SAMPLE_REPO / "ISSUES" / issue).read_text(), k=5)
    assert gold in result.paths()[:3]
    assert all(not p.startswith(("tests/", "ISSUES/")) for p in result.paths()[:3])
    top = result.files[0]
    assert top.chunks and all(h.path == top.path for h in top.chunks)
    packed = localization_context(reader, result, 2000, estimate_tokens)
    assert any(c.path == gold for c in packed)
    assert sum(estimate_tokens(heading(c.path, c.start_line, c.end_line) + c.text + "\n")
               for c in packed) <= 2000


def test_a_quoted_error_message_finds_the_code_that_raises_it(indexed: tuple) -> None:
    """The message is a phrase of common words (BM25 alone spreads it over every file that talks
    about products); the string literal that prints it pins the file."""
    reader, _ = indexed
    issue = ("Checkout refuses a listed product\n\nPlacing an order for a product we still sell fails with\n"
             "`ValidationError: product TEA-001 is no longer available`.\n")
    assert _message_files(analyze_query(issue), reader)[:1] == ["shopcore/services/order_service.py"]
    assert localize(reader, issue, k=3).paths()[0] == "shopcore/services/order_service.py"


def test_the_title_is_the_first_line_only_when_a_body_follows() -> None:
    from retrieval.localize import issue_title

    assert issue_title("# Coupon VAT too high\n\nSteps: apply FIXED10 ...") == "Coupon VAT too high"
    assert issue_title("  \nReport misses the last day\nThe daily report ...") == "Report misses the last day"
    assert issue_title("why are orders of the last day missing?") == ""  # a one-line question has no title
    assert issue_title("x" * 300 + "\nmore") == ""  # a paragraph is not a title
