"""`repo-assistant index` and `status` end to end on a copy of sample_repo/ (real console script)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def test_index_and_status_on_sample_repo(sample_repo_copy: Path) -> None:
    repo = sample_repo_copy
    (repo / ".env").write_text("STRIPE_KEY=sk_live_abcdefghijklmnopqrstuvwx\n")
    result = run_cli("index", str(repo), "--no-embeddings")
    assert result.returncode == 0, result.stderr
    assert "chunks" in result.stdout and "python" in result.stdout and "1 secret" in result.stdout
    assert result.stderr == ""  # no progress bars or logs when stderr is not a terminal

    status = run_cli("status", str(repo), "--json")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["files"] > 10 and info["chunks"] > info["files"]
    assert info["stale_files"] == [] and info["skipped"] == {"secret": 1}
    assert info["index_dir"] == str(repo / ".repo-assistant" / "index")
    assert Path(info["index_dir"], "index.sqlite").is_file()

    target = next(p for p in sorted((repo / "shopcore").rglob("*.py")) if p.stat().st_size > 200)
    target.write_text(target.read_text() + "\n\ndef brand_new_helper():\n    return 42\n")
    os.utime(target, ns=(1, 1))
    stale = json.loads(run_cli("status", "--json", cwd=repo).stdout)["stale_files"]
    assert stale == [target.relative_to(repo).as_posix()]
    table = run_cli("status", str(repo)).stdout
    assert "1 files changed" in table and "repo-assistant index" in table

    again = run_cli("index", str(repo), "--no-embeddings")
    assert again.returncode == 0 and "1 new/changed" in again.stdout
    assert json.loads(run_cli("status", str(repo), "--json").stdout)["stale_files"] == []


def test_status_without_index_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_cli("status", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"repo-assistant: error: no index for {tmp_path.resolve()} (run `repo-assistant index`)"]


def test_index_with_embeddings_then_vectors_in_status(sample_repo_copy: Path) -> None:
    result = run_cli("index", str(sample_repo_copy), "--set", "index.threads=1")
    assert result.returncode == 0, result.stderr
    info = json.loads(run_cli("status", str(sample_repo_copy), "--json").stdout)
    assert info["vectors"]["points"] == info["chunks"]
    assert info["vectors"]["store"] == "edge" and info["vectors"]["dim"] == 384
