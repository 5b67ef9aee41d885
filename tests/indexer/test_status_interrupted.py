"""`status` after an index run killed while embedding: it says so, and that `index` resumes it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, run_cli

pytestmark = pytest.mark.slow

# Indexes with embeddings and kills itself (SIGKILL: no cleanup at all) when the embedding phase starts.
KILL_WHILE_EMBEDDING = """
import os, signal, sys
from pathlib import Path
from base.config import IndexSettings
from indexer.pipeline import index_repository

def progress(event):
    if event.phase == "embedding":
        os.kill(os.getpid(), signal.SIGKILL)

index_repository(Path(sys.argv[1]), IndexSettings(threads=1), progress=progress)
"""


def test_status_after_a_killed_embedding_run(sample_repo_copy: Path) -> None:
    repo = sample_repo_copy
    killed = subprocess.run([sys.executable, "-c", KILL_WHILE_EMBEDDING, str(repo)], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=600, check=False)
    assert killed.returncode == -9, killed.stderr

    info = json.loads(run_cli("status", str(repo), "--json").stdout)
    assert info["last_run_state"] == "interrupted"
    assert info["chunks"] > 0 and info["vectors_pending"] == info["chunks"]
    table = run_cli("status", str(repo), env={"COLUMNS": "300"}).stdout
    assert "interrupted" in table and "run `repo-assistant index` to resume it" in table
    assert "up to date" not in table and "last run │ never" not in table
    assert "none (BM25 only" not in table

    resumed = run_cli("index", str(repo), "--set", "index.threads=1")
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads(run_cli("status", str(repo), "--json").stdout)
    assert info["last_run_state"] == "finished" and info["vectors_pending"] == 0
    assert info["vectors"]["points"] == info["chunks"]
