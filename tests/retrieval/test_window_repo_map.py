"""The active-file window and the PageRank repo map."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.types import FileSymbols
from retrieval import render
from retrieval.map_graph import (
    FOCUS_FILE_MUL,
    MAX_DEFINERS,
    MENTIONED_MUL,
    UNREFERENCED_SELF_WEIGHT,
    name_flags,
    name_weights,
)
from retrieval.repo_map import RepoMap, build_repo_map
from tests.retrieval.minirepo import FILES, symbols, whitespace_tokens

LINES = [f"line_{n} = {n}\n" for n in range(1, 201)]


def _cost(start: int, end: int) -> int:
    return whitespace_tokens(render.block("f.py", LINES, start, end))


def test_window_prefers_the_prefix_and_splits_at_the_cursor() -> None:
    from retrieval.window import cursor_window

    w = cursor_window(LINES, 100, 4, None, 200, _cost)
    assert w.start < 100 < w.end
    assert (100 - w.start) > (w.end - 100)  # more above than below
    assert w.prefix.endswith("line")
    assert w.suffix.startswith("_100 = 100\n")
    assert _cost(w.start, w.end) <= 200
    assert w.prefix + w.suffix == "".join(LINES[w.start - 1:w.end])


def test_window_gives_the_prefix_what_the_suffix_cannot_use() -> None:
    from retrieval.window import cursor_window

    w = cursor_window(LINES, 198, None, None, 300, _cost)
    assert w.end == 200
    assert _cost(w.start, w.end) <= 300 < _cost(w.start - 1, w.end)


def test_window_keeps_a_selection_and_handles_tiny_budgets() -> None:
    from retrieval.window import cursor_window

    w = cursor_window(LINES, 50, 0, 60, 400, _cost)
    assert w.start <= 50 and w.end >= 60
    assert cursor_window(LINES, 50, 0, None, 2, _cost).empty
    whole = cursor_window(LINES[:5], None, None, None, 1000, _cost)
    assert (whole.start, whole.end, whole.suffix) == (1, 5, "")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 220), st.one_of(st.none(), st.integers(0, 30)), st.integers(0, 900))
def test_window_never_exceeds_its_budget(line: int, col: int | None, budget: int) -> None:
    from retrieval.window import cursor_window

    w = cursor_window(LINES, line, col, None, budget, _cost)
    if not w.empty:
        assert _cost(w.start, w.end) <= budget


def name_multiplier(name: str, definers: int) -> float:
    """Aider's weight of one name's edges, as the map computes it for all names at once."""
    return float(name_weights([name_flags(name)], [definers])[0])


def _edge_graph(files: dict[str, FileSymbols], focus: set[str], mentioned: set[str]) -> nx.MultiDiGraph:
    """Aider's graph, edge by edge: every referrer to every definer, self-loops for unreferenced names."""
    defines: dict[str, set[str]] = {}
    referrers: dict[str, set[str]] = {}
    for path, fs in files.items():
        for d in fs.definitions:
            defines.setdefault(d.name, set()).add(path)
        for name in fs.references:
            referrers.setdefault(name, set()).add(path)
    g = nx.MultiDiGraph()
    g.add_nodes_from(files)
    for name, definers in defines.items():
        if len(definers) > MAX_DEFINERS:
            continue
        users = referrers.get(name)
        name_mul = MENTIONED_MUL if name in mentioned else 1.0
        pairs = [(d, d, UNREFERENCED_SELF_WEIGHT) for d in definers] if not users else \
            [(u, d, name_multiplier(name, len(definers))) for u in users for d in definers]
        for src, dst, weight in pairs:
            g.add_edge(src, dst, weight=weight * name_mul * (FOCUS_FILE_MUL if src in focus else 1.0))
    return g


@pytest.mark.parametrize(("focus", "mentioned"), [((), ()), (("shop/orders.py",), ("parse_header", "Money"))])
def test_factorised_pagerank_matches_networkx_on_the_edge_graph(focus: tuple[str, ...],
                                                                  mentioned: tuple[str, ...]) -> None:
    rm = RepoMap()
    files = symbols()
    rm.update(files)
    g = rm.graph()
    edges = _edge_graph(files, set(focus), set(mentioned))
    simple = nx.DiGraph()  # parallel edges add up, as in PageRank on a multigraph
    simple.add_nodes_from(edges.nodes)
    for src, dst, data in edges.edges(data=True):
        old = simple.get_edge_data(src, dst, {"weight": 0.0})["weight"]
        simple.add_edge(src, dst, weight=old + data["weight"])
    personal = {p: 1.0 for p in focus}
    for name in mentioned:
        personal.update({p: 1.0 for p in g.paths if name in {*p.split("/"), p.rsplit("/", 1)[-1].rsplit(".", 1)[0]}})
        personal.update({p: 1.0 for p, fs in files.items() if any(d.name == name for d in fs.definitions)})
    expected = nx.pagerank(simple, weight="weight", personalization=personal or None,
                           dangling=personal or None, tol=1e-12, max_iter=1000)
    index = {p: i for i, p in enumerate(g.paths)}
    ours = g.rank([index[p] for p in focus], mentioned, tol=1e-12, max_iter=1000).rank
    assert np.allclose(ours, [expected[p] for p in g.paths], atol=1e-8)


def test_repo_map_ranks_toward_the_focus_and_fits_the_budget() -> None:
    syms = symbols()
    rm = RepoMap()
    rm.update(syms)
    focused = rm.ranked(focus_files=["shop/orders.py"])
    top_files = [path for path, _, _ in focused[:4]]
    assert "shop/pricing/calculator.py" in top_files  # orders.py references PriceCalculator
    for budget in (10, 30, 60, 200):
        text = rm.render(budget, whitespace_tokens, ["shop/orders.py"])
        assert whitespace_tokens(text) <= budget
    big = rm.render(500, whitespace_tokens)
    assert "class PriceCalculator:" in big and "def parse_header(line: str)" in big
    assert "│    def total(" in big  # methods are indented under their class


def test_repo_map_mentioned_names_pull_their_file_up() -> None:
    rm = RepoMap()
    rm.update(symbols())
    plain = [d.name for _, d, _ in rm.ranked() if d is not None]
    asked = [d.name for _, d, _ in rm.ranked(focus_names=["parse_header"]) if d is not None]
    assert asked.index("parse_header") < plain.index("parse_header") or asked[0] == "parse_header"


def test_repo_map_is_incremental_and_cached() -> None:
    syms = symbols()
    rm = RepoMap()
    assert rm.update(syms) == len(syms)
    version = rm.version
    assert rm.update(syms) == 0 and rm.version == version
    first = rm.render(100, whitespace_tokens)
    assert rm.render(100, whitespace_tokens) is first  # memoised
    changed = dict(FILES)
    changed["shop/http/headers.py"] += "\n\ndef parse_cookie(line: str) -> dict:\n    return {}\n"
    new_syms = symbols(changed)
    assert rm.update(new_syms) == 1
    assert "parse_cookie" in rm.render(500, whitespace_tokens)
    fewer = {p: fs for p, fs in new_syms.items() if p != "shop/http/headers.py"}
    assert rm.update(fewer) == 1
    assert "parse_header" not in rm.render(500, whitespace_tokens)


def test_build_repo_map_zero_budget_is_empty() -> None:
    assert build_repo_map(symbols(), 0, whitespace_tokens, cache_key="t") == ""
    assert build_repo_map({}, 100, whitespace_tokens, cache_key="t") == ""
