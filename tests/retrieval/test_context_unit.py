"""Definitions at the cursor and context assembly, on a hand-written repo with a fake reader.

The budget property test runs here with a whitespace token counter; the integration
tests repeat the key checks on a real index with the estimate counter.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from base.config import RetrievalSettings
from base.errors import RetrievalError
from retrieval.context import build_context
from retrieval.definitions import definitions_at, imported_files, names_near, resolve_module
from retrieval.types import Target
from tests.retrieval.fakes import FakeReader
from tests.retrieval.minirepo import FILES, symbols, whitespace_tokens


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeReader, Path]:
    root = tmp_path_factory.mktemp("mini")
    return FakeReader(FILES, symbols(), root), root


def _lines(path: str) -> list[str]:
    return FILES[path].splitlines(keepends=True)


def test_resolve_module_forms() -> None:
    files = set(FILES) | {"web/src/client.ts", "web/src/index.ts", "src/pkg/util.py"}
    assert resolve_module("shop.pricing.money", "shop/orders.py", files) == "shop/pricing/money.py"
    assert resolve_module(".money", "shop/pricing/calculator.py", files) == "shop/pricing/money.py"
    assert resolve_module("..orders", "shop/pricing/calculator.py", files) == "shop/orders.py"
    assert resolve_module("shop.pricing", "shop/orders.py", files) == "shop/pricing/__init__.py"
    assert resolve_module("./client", "web/src/index.ts", files) == "web/src/client.ts"
    assert resolve_module("pkg.util", "x.py", files) == "src/pkg/util.py"
    assert resolve_module("decimal", "shop/orders.py", files) is None


def test_imported_files_reads_names_from_dotted_imports() -> None:
    syms = symbols()
    imports = imported_files(syms["shop/orders.py"], syms)
    assert "shop/pricing/calculator.py" in imports
    from indexer.types import FileSymbols

    fake = FileSymbols("x.py", "python", imports=("shop.pricing.money.round_money",))
    assert imported_files(fake, syms) == {"shop/pricing/money.py": {"round_money"}}


def test_names_near_weighs_the_cursor_line_most() -> None:
    lines = _lines("shop/orders.py")
    weights = names_near(lines, 23)
    assert weights["total"] == 1.0
    assert weights["calculator"] == 1.0
    assert weights["add_line"] < weights["price"] < 1.0
    assert "self" not in weights and "return" not in weights


def test_definitions_resolve_across_modules() -> None:
    syms = symbols()
    found = definitions_at(syms, "shop/orders.py", _lines("shop/orders.py"), 23, visible=(20, 25))
    names = [(c.definition.path, c.definition.qualified_name) for c in found]
    assert ("shop/pricing/calculator.py", "PriceCalculator.total") in names
    assert ("shop/pricing/calculator.py", "PriceCalculator") in names
    # ranked by proximity: what the cursor line uses comes before what is only imported
    total_rank = names.index(("shop/pricing/calculator.py", "PriceCalculator.total"))
    assert all(c.definition.name != "OrderLine" for c in found[: total_rank])


def test_definitions_skip_what_the_window_shows() -> None:
    syms = symbols()
    found = definitions_at(syms, "shop/orders.py", _lines("shop/orders.py"), 23, visible=(1, 25))
    assert all(c.definition.path != "shop/orders.py" for c in found)


def test_context_priorities_reasons_and_layout(mini: tuple[FakeReader, Path]) -> None:
    reader, root = mini
    ctx = build_context(reader, Target("shop/orders.py", 23, 16), "how is the discount applied?", 400,
                        whitespace_tokens, repo=root, settings=RetrievalSettings())
    kinds = [i.kind for i in ctx.items]
    assert kinds[-1] == "active-file"  # the active file comes last, closest to the question
    assert "definition" in kinds and "search-hit" in kinds
    reasons = " | ".join(i.reason for i in ctx.items)
    assert "active-file window" in reasons
    assert "definition of total" in reasons or "definition of PriceCalculator" in reasons
    assert "search hit for 'how is the discount applied?'" in reasons
    assert ctx.tokens_used == whitespace_tokens(ctx.text) <= ctx.budget == 400
    assert "### shop/pricing/discounts.py:" in ctx.text
    assert ctx.prefix.endswith("        total = ")
    assert ctx.suffix.startswith("calculator.total(self.lines)")
    # items ordered by file then line, no overlaps within a file
    others = [i for i in ctx.items if i.kind not in ("active-file", "repo-map")]
    assert others == sorted(others, key=lambda i: (i.path, i.start_line))
    for a, b in itertools.pairwise(others):
        if a.path == b.path:
            assert b.start_line > a.end_line


def test_context_reports_what_it_dropped(mini: tuple[FakeReader, Path]) -> None:
    reader, root = mini
    ctx = build_context(reader, Target("shop/orders.py", 23), "price discount money rounding", 120,
                        whitespace_tokens, repo=root, settings=RetrievalSettings())
    assert ctx.tokens_used <= 120
    assert ctx.dropped, "a small budget must leave candidates out"
    assert all(d.tokens > 0 for d in ctx.dropped if d.kind != "repo-map")
    assert {d.kind for d in ctx.dropped} <= {"definition", "search-hit", "repo-map", "pinned"}


def test_context_merges_duplicates(mini: tuple[FakeReader, Path]) -> None:
    reader, root = mini
    ctx = build_context(reader, Target("shop/pricing/calculator.py", 18), "PriceCalculator total apply_discount",
                        2000, whitespace_tokens, repo=root, settings=RetrievalSettings())
    spans: dict[str, list[tuple[int, int]]] = {}
    for item in ctx.items:
        if item.path:
            spans.setdefault(item.path, []).append((item.start_line, item.end_line))
    for path, file_spans in spans.items():
        file_spans.sort()
        for a, b in itertools.pairwise(file_spans):
            assert b[0] > a[1] + 1, f"{path}: {a} and {b} overlap or touch"
    # a big budget shows the small active file whole, so nothing from it is repeated as a hit
    assert next(i for i in ctx.items if i.path == "shop/pricing/calculator.py").kind == "active-file"


def test_pinned_files_and_repo_map(mini: tuple[FakeReader, Path]) -> None:
    reader, root = mini
    ctx = build_context(reader, Target("shop/orders.py", 5), "", 1500, whitespace_tokens, repo=root,
                        settings=RetrievalSettings(), pinned=["shop/http/headers.py"])
    pinned = [i for i in ctx.items if i.kind == "pinned"]
    assert pinned and pinned[0].path == "shop/http/headers.py" and pinned[0].reason == "pinned file"
    assert any(i.kind == "repo-map" for i in ctx.items)
    assert ctx.text.startswith("### Repository map")
    with pytest.raises(RetrievalError, match="pinned file not found"):
        build_context(reader, Target("shop/orders.py", 5), "", 1500, whitespace_tokens, repo=root,
                      settings=RetrievalSettings(), pinned=["nope.py"])


def test_unsaved_editor_text_is_used(mini: tuple[FakeReader, Path]) -> None:
    reader, root = mini
    text = FILES["shop/orders.py"] + "\n    def refund(self) -> None:\n        calculator = PriceCalc\n"
    ctx = build_context(reader, Target("shop/orders.py", 27, 30), "", 600, whitespace_tokens, repo=root,
                        settings=RetrievalSettings(), active_text=text)
    assert ctx.prefix.endswith("calculator = PriceCalc")


def test_unknown_file_is_a_clear_error(mini: tuple[FakeReader, Path]) -> None:
    reader, root = mini
    with pytest.raises(RetrievalError, match="no such file"):
        build_context(reader, Target("missing.py", 1), "", 100, whitespace_tokens, repo=root,
                      settings=RetrievalSettings())


targets = st.sampled_from(sorted(p for p in FILES if FILES[p]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=targets,
    line=st.one_of(st.none(), st.integers(1, 40)),
    col=st.one_of(st.none(), st.integers(0, 60)),
    budget=st.integers(0, 900),
    query=st.sampled_from(["", "price of an order", "parse_header", "money rounding discount", "zzz"]),
    pin=st.booleans(),
)
def test_budget_is_never_exceeded(mini: tuple[FakeReader, Path], path: str, line: int | None,
                                  col: int | None, budget: int, query: str, pin: bool) -> None:
    reader, root = mini
    ctx = build_context(reader, Target(path, line, col), query, budget, whitespace_tokens, repo=root,
                        settings=RetrievalSettings(), pinned=["shop/pricing/money.py"] if pin else ())
    assert ctx.tokens_used == whitespace_tokens(ctx.text) <= budget
    fim = whitespace_tokens(ctx.other_text) + whitespace_tokens(ctx.prefix) + whitespace_tokens(ctx.suffix)
    assert fim <= budget
    assert sum(i.tokens for i in ctx.items) >= 0


def test_the_suffix_rule_finds_what_a_scan_of_every_file_finds() -> None:
    """Import resolution's last resort, grouped by stem, equals the plain scan in the files' order."""
    files = {p: None for p in ["a/src/pkg/util.py", "b/pkg/util/__init__.py", "c/pkg/util.ts", "pkg_util.py",
                               "x/y/__init__.py", "z/y.go", "lib/y/__init__.py", "top.py"]}

    def scan(spec: str) -> str | None:
        module = spec.replace(".", "/")
        direct = [f"{module}.py", f"{module}/__init__.py", f"src/{module}.py", f"src/{module}/__init__.py"]
        if any(p in files for p in direct):
            return next(p for p in direct if p in files)
        tail = "/" + module
        return next((p for p in files if p.rsplit(".", 1)[0].endswith((tail, tail + "/__init__"))), None)

    for spec in ["pkg.util", "util", "y", "x.y", "lib.y", "top", "pkg", "nothing.here", "y.__init__"]:
        assert resolve_module(spec, "other/file.py", files) == scan(spec), spec
    assert resolve_module("pkg.util", "other/file.py", files) == "a/src/pkg/util.py"
    assert resolve_module("y", "other/file.py", files) == "x/y/__init__.py"
