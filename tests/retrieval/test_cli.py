"""The search, localize and context commands end to end (the real console script, a real index)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_REPO, run_cli


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_repo copied and indexed once (BM25 only) through the real `index` command."""
    target = tmp_path_factory.mktemp("cli") / "sample_repo"
    shutil.copytree(SAMPLE_REPO, target, ignore=shutil.ignore_patterns(".repo-assistant", "__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    result = run_cli("index", str(target), "--no-embeddings")
    assert result.returncode == 0, result.stderr
    return target


def test_search_table_and_json(repo: Path) -> None:
    result = run_cli("search", "where is the price of an order computed?", "--repo", str(repo))
    assert result.returncode == 0, result.stderr
    assert "shopcore/pricing/calculator.py" in result.stdout
    assert "hybrid search used BM25 only" in result.stderr  # no vectors: hybrid degrades, with a note
    result = run_cli("search", "check_applicable", "--k", "3", "--json", "--repo", str(repo))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["mode"] == "bm25"
    top = payload["hits"][0]
    assert top["path"] == "shopcore/pricing/discounts.py" and top["symbol"].endswith("check_applicable")
    assert {"start_line", "end_line", "score", "sources", "text"} <= set(top)
    assert len(payload["hits"]) <= 3


def test_search_filters_and_modes(repo: Path) -> None:
    result = run_cli("search", "order", "--path", "clients/*", "--json", "--repo", str(repo))
    paths = {h["path"] for h in json.loads(result.stdout)["hits"]}
    assert paths and all(p.startswith("clients/") for p in paths)
    result = run_cli("search", "order", "--mode", "vector", "--repo", str(repo))
    assert result.returncode == 1
    assert "no vectors" in result.stderr and "repo-assistant index" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_localize_file_and_stdin(repo: Path) -> None:
    issue = SAMPLE_REPO / "ISSUES" / "005-sales-report-misses-last-day.md"
    result = run_cli("localize", str(issue), "--k", "3", "--json", "--repo", str(repo))
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout)["files"]
    assert files[0]["path"] == "shopcore/reports.py"
    assert {"path", "score", "chunks"} <= set(files[0]) and files[0]["chunks"]
    assert {"start_line", "end_line", "symbol", "text"} <= set(files[0]["chunks"][0])
    result = run_cli("localize", "-", "--repo", str(repo), input_text=issue.read_text())
    assert result.returncode == 0 and "shopcore/reports.py" in result.stdout
    result = run_cli("localize", "-", "--repo", str(repo), input_text="  \n")
    assert result.returncode == 2 and "empty" in result.stderr


@pytest.mark.slow
def test_context_shows_items_text_and_dropped(repo: Path) -> None:
    result = run_cli("context", "shopcore/services/order_service.py:116:13", "--query", "coupon minimum",
                     "--budget", "3000", "--repo", str(repo))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Items in the context" in out and "What the model sees" in out
    assert "active-file window" in out and "definition of" in out
    assert "### shopcore/services/order_service.py:" in out
    assert "Left out for the budget" in out
    assert "Tokens counted with:" in out
    result = run_cli("context", "shopcore/services/order_service.py:116", "--budget", "3000", "--json",
                     "--repo", str(repo))
    payload = json.loads(result.stdout)
    from assistant.budget import PROMPT_MARGIN_TOKENS

    assert payload["tokens_used"] <= payload["budget"] == 3000 - 1024 - PROMPT_MARGIN_TOKENS
    assert payload["items"][-1]["kind"] == "active-file"
    assert "answer reserve" in payload["budget_explained"]


def test_context_bad_locations(repo: Path) -> None:
    result = run_cli("context", "nope.py:3", "--repo", str(repo))
    assert result.returncode == 2 and "file not found" in result.stderr
    result = run_cli("context", "shopcore/reports.py:0", "--repo", str(repo))
    assert result.returncode == 2 and "lines start at 1" in result.stderr
    # A line past the end is refused, as `complete` refuses it (it used to be clamped silently).
    result = run_cli("context", "shopcore/reports.py:9999:1", "--repo", str(repo))
    assert result.returncode == 2 and "line 9999 is outside shopcore/reports.py" in result.stderr
    result = run_cli("context", "--repo", str(repo))
    assert result.returncode == 2 and "--query" in result.stderr


def test_file_paths_are_repository_relative_first_then_working_directory(repo: Path) -> None:
    """From a sub-folder, a path relative to the repository and one relative to the folder both work."""
    sub = repo / "shopcore"
    result = run_cli("context", "shopcore/reports.py:3", "--json", cwd=sub)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["items"][-1]["path"] == "shopcore/reports.py"
    assert "working directory" not in result.stderr
    result = run_cli("context", "reports.py:3", "--json", cwd=sub)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["items"][-1]["path"] == "shopcore/reports.py"
    assert "taken relative to the working directory" in result.stderr


def test_missing_and_empty_index(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    for args in (("search", "x"), ("context", "a.py:1")):
        result = run_cli(*args, "--repo", str(tmp_path))
        assert result.returncode == 1
        assert "repo-assistant index" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("index", str(empty), "--no-embeddings").returncode == 0
    result = run_cli("search", "x", "--repo", str(empty))
    assert result.returncode == 1 and "no files" in result.stderr and "repo-assistant index" in result.stderr
