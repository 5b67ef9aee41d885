"""The MCP server's tools, called with the SDK's client over stdio on an indexed copy of sample_repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from tests.mcp.conftest import mcp_client

TOOLS = {"search", "localize", "context", "definition", "references", "outline", "repo_map"}


def _run(repo: Path, tmp_path: Path, calls: list[tuple[str, dict[str, Any]]]) -> tuple[set[str], list[Any]]:
    async def scenario() -> tuple[set[str], list[Any]]:
        async with mcp_client(repo, tmp_path / "server.err") as client:
            listed = await client.list_tools()
            results = [await client.call_tool(name, args) for name, args in calls]
            return {t.name for t in listed.tools}, results

    return anyio.run(scenario)


def test_every_tool_answers_on_the_sample_repo(indexed_repo: Path, tmp_path: Path) -> None:
    names, results = _run(indexed_repo, tmp_path, [
        ("search", {"query": "quantize money to cents", "k": 5}),
        ("search", {"query": "coupon", "k": 3, "path_glob": "shopcore/*", "language": "python", "mode": "bm25"}),
        ("localize", {"issue_text": "Fixed-amount coupon: VAT too high\n\nThe coupon discount is applied after VAT",
                      "k": 3}),
        ("context", {"target": "shopcore/pricing/calculator.py:40-60", "query": "coupon", "budget": 1200}),
        ("definition", {"symbol": "Order.total"}),
        ("references", {"symbol": "quantize_money", "limit": 20}),
        ("outline", {"path": "shopcore/models/order.py"}),
        ("repo_map", {"budget": 400, "focus_files": ["shopcore/cli.py"], "focus_symbols": ["quantize_money"]}),
    ])
    assert names == TOOLS
    assert not any(r.is_error for r in results), [r.content[0].text for r in results if r.is_error]
    search, filtered, localize, context, definition, references, outline, repo_map = results

    hits = search.structured_content["hits"]
    assert hits and hits[0]["path"] == "shopcore/pricing/money.py"
    assert "shopcore/pricing/money.py:" in search.content[0].text
    assert all(h["path"].startswith("shopcore/") and h["language"] == "python"
               for h in filtered.structured_content["hits"])

    files = localize.structured_content["files"]
    assert files[0]["path"].startswith("shopcore/pricing/") and files[0]["why"] and files[0]["chunks"]

    ctx = context.structured_content
    assert ctx["tokens_used"] <= ctx["budget"] == 1200
    assert any(i["kind"] == "active-file" and i["path"] == "shopcore/pricing/calculator.py" for i in ctx["items"])
    assert all(i["reason"] for i in ctx["items"] + ctx["dropped"])

    defs = definition.structured_content["definitions"]
    assert defs[0]["qualified_name"] == "Order.total" and defs[0]["path"] == "shopcore/models/order.py"
    assert "def total" in definition.structured_content["source"]

    refs = references.structured_content["references"]
    assert {r["path"] for r in refs} >= {"shopcore/pricing/calculator.py"}
    assert all("quantize_money" in r["text"] for r in refs)
    assert not any(r["path"] == "shopcore/pricing/money.py" and r["text"].startswith("def quantize_money")
                   for r in refs)

    outlined = outline.structured_content["definitions"]
    assert [d["qualified_name"] for d in outlined][:1] == ["OrderStatus"]
    assert "Order.total" in {d["qualified_name"] for d in outlined}
    assert [d["start_line"] for d in outlined] == sorted(d["start_line"] for d in outlined)

    assert "def quantize_money" in repo_map.structured_content["map"]
    assert 0 < repo_map.structured_content["tokens"] <= 400


def test_bad_arguments_are_one_line_tool_errors(indexed_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET_OUTSIDE = 1\n")
    (indexed_repo / ".env").write_text("API_KEY=abc\n")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("search", {"query": "   "}),
        ("search", {"query": "total", "k": 0}),
        ("search", {"query": "total", "k": "many"}),
        ("search", {"query": "total", "mode": "psychic"}),
        ("search", {}),
        ("context", {"target": "shopcore/models/order.py:9999"}),
        ("context", {"target": "shopcore/models/order.py:20-10"}),
        ("context", {"target": "../outside.py:1"}),
        ("context", {"target": str(outside)}),
        ("outline", {"path": "../../../../etc/passwd"}),
        ("outline", {"path": ".env"}),
        ("outline", {"path": "no/such/file.py"}),
        ("repo_map", {"budget": 1}),
        ("no_such_tool", {}),
    ]
    _names, results = _run(indexed_repo, tmp_path, [*calls, ("search", {"query": "total", "k": 1})])
    for (name, args), res in zip(calls, results, strict=False):
        text = res.content[0].text
        assert res.is_error, (name, args, text)
        assert "\n" not in text and text.strip(), (name, args, text)
        assert "Traceback" not in text and "SECRET_OUTSIDE" not in text and "abc" not in text
    assert "outside the repository" in results[7].content[0].text
    assert "outside the repository" in results[8].content[0].text
    assert "not indexed" in results[10].content[0].text
    assert not results[-1].is_error  # the server is still up and answering


def test_missing_index_names_the_fix(sample_repo_copy: Path, tmp_path: Path) -> None:
    _names, results = _run(sample_repo_copy, tmp_path, [("search", {"query": "total"}),
                                                        ("outline", {"path": "shopcore/models/order.py"})])
    for res in results:
        assert res.is_error and "repo-assistant index" in res.content[0].text
        assert "\n" not in res.content[0].text


def test_streamable_http_serves_the_same_tools(indexed_repo: Path, tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess
    import time

    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    from tests.mcp.conftest import BM25_ONLY, server_command

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command, args = server_command()
    with (tmp_path / "http.err").open("w") as err:
        server = subprocess.Popen([command, *args, str(indexed_repo), "--http", "--port", str(port), "--no-watch"],
                                  stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, **BM25_ONLY},
                                  start_new_session=True)

    async def scenario() -> tuple[set[str], Any]:
        url = f"http://127.0.0.1:{port}/mcp"
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            listed = await client.list_tools()
            return {t.name for t in listed.tools}, await client.call_tool("definition", {"symbol": "Order.total"})

    try:
        deadline = time.monotonic() + 60
        while True:  # until the server accepts connections
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, (tmp_path / "http.err").read_text()
            assert time.monotonic() < deadline, "the HTTP server never listened"
            time.sleep(0.1)
        names, found = anyio.run(scenario)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert names == TOOLS
    assert found.structured_content["definitions"][0]["path"] == "shopcore/models/order.py"
