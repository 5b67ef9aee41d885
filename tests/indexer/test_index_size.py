"""The index costs what its content needs: the vector store's preallocated files stay sparse.

Qdrant Edge preallocates ~70 MiB of mmap files per shard; they are holes until a new
generation copies them, which used to write every zero (74.5 MiB for the 49-file sample).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

MIB = 1024 * 1024


def _disk_bytes(root: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in root.rglob("*") if p.is_file())


def test_new_generations_stay_sparse(sample_repo_copy: Path) -> None:
    repo = sample_repo_copy
    assert run_cli("index", str(repo), "--set", "index.threads=1").returncode == 0
    target = repo / "shopcore" / "pricing" / "tax.py"
    target.write_text(target.read_text() + "\n\ndef extra_helper():\n    return 1\n")
    again = run_cli("index", str(repo), "--set", "index.threads=1")  # publishes gen-2, a copy of gen-1
    assert again.returncode == 0, again.stderr
    info = json.loads(run_cli("status", str(repo), "--json").stdout)
    assert info["vectors"]["snapshot"] == "gen-2" and info["vectors"]["points"] == info["chunks"]
    used = _disk_bytes(repo / ".repo-assistant" / "index")
    assert used < 8 * MIB, f"{used / MIB:.1f} MiB on disk"
    assert abs(info["index_bytes"] - used) < MIB  # status reports disk usage, not the preallocated sizes
    search = run_cli("search", "vat rounding", "--mode", "vector", "--repo", str(repo))
    assert search.returncode == 0 and "tax.py" in search.stdout  # the sparse copy reads back intact
