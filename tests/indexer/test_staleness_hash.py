"""Staleness compares content when size/mtime differ: restoring identical bytes is not a change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli


def _stale(repo: Path) -> list[str]:
    result = run_cli("status", str(repo), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["stale_files"]


def test_same_bytes_with_new_mtime_is_not_stale(sample_repo_copy: Path) -> None:
    repo = sample_repo_copy
    assert run_cli("index", str(repo), "--no-embeddings").returncode == 0
    target = repo / "shopcore" / "pricing" / "tax.py"
    original = target.read_bytes()

    target.write_bytes(original + b"\n# edited\n")
    os.utime(target, ns=(10**18, 10**18))
    subprocess.run(["git", "checkout", "--", "shopcore/pricing/tax.py"], cwd=repo, check=True)
    assert target.read_bytes() == original and target.stat().st_mtime_ns != 10**18
    assert _stale(repo) == []
    table = run_cli("status", str(repo), env={"COLUMNS": "200"}).stdout
    assert "up to date" in table

    same_size = original.replace(b"return", b"retXrn", 1)
    assert len(same_size) == len(original)
    target.write_bytes(same_size)
    os.utime(target, ns=(10**18, 10**18))
    assert _stale(repo) == ["shopcore/pricing/tax.py"]


def test_the_freshness_check_loads_no_numpy() -> None:
    # The CLI forks the check while the query loads numpy itself: a check that imported it would
    # spend its head start importing.
    root = Path(__file__).resolve().parents[2]
    code = ("import sys, indexer.staleness, assistant.freshness, base.forked; "
            "print(sorted(m for m in ('numpy', 'tree_sitter', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
