"""A read-only repository: reading commands work, ``index`` says in one line that it cannot write.

Permission bits do not stop root, so the repository is made truly read-only with a
read-only bind mount inside a private mount namespace (``unshare -rm``: a user
namespace maps the caller to root there, so this works for root and for normal
users alike).  Where user namespaces are not allowed the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from base.logsetup import fallback_log_file
from tests.conftest import run_cli

_MOUNT_RO = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'


def _read_only(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``repo-assistant --repo REPO ARGS`` with ``repo`` mounted read-only."""
    exe = Path(sys.executable).with_name("repo-assistant")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "cli.main"]
    return subprocess.run(["unshare", "-rm", "sh", "-c", _MOUNT_RO, str(repo), *command, "--repo", str(repo),
                           *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture
def read_only_support(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed: cannot make a read-only mount")
    probe = tmp_path / "probe"
    probe.mkdir()
    result = subprocess.run(["unshare", "-rm", "sh", "-c", _MOUNT_RO + " 2>/dev/null", str(probe),
                             "sh", "-c", f"! touch {probe}/x 2>/dev/null"], capture_output=True, check=False)
    if result.returncode != 0:
        pytest.skip("user and mount namespaces are not available here: cannot make a read-only mount")


@pytest.mark.slow
def test_read_only_repository(sample_repo_copy: Path, read_only_support: None) -> None:
    repo = sample_repo_copy
    built = run_cli("index", str(repo), "--set", "index.threads=1")  # with vectors: hybrid search reads them
    assert built.returncode == 0, built.stderr
    shutil.rmtree(repo / ".repo-assistant" / "logs")  # indexed before it became read-only, logs never written
    log_file = fallback_log_file(repo.resolve())
    env: dict[str, str] = {}

    status = _read_only(repo, "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert status.stderr == "" and '"files": 49' in status.stdout

    search = _read_only(repo, "search", "vat rounding", env=env)
    assert search.returncode == 0, search.stderr
    assert search.stderr == "" and "results for 'vat rounding' (hybrid)" in search.stdout
    assert "vector #" in search.stdout  # the vector store was read, not skipped

    issue = repo / "ISSUES" / "002-vat-one-cent-short.md"
    localize = _read_only(repo, "localize", str(issue), "--json", env=env)
    assert localize.returncode == 0, localize.stderr
    assert "Traceback" not in localize.stderr

    index = _read_only(repo, "index", env=env)
    assert index.returncode == 1
    assert index.stderr.count("\n") == 1
    assert index.stderr.startswith(f"repo-assistant: error: cannot write the index: "
                                   f"{repo.resolve() / '.repo-assistant' / 'index'} is not writable")

    # the log went to the user cache dir instead of the repository
    try:
        assert "command status" in log_file.read_text()
        assert not (repo / ".repo-assistant" / "logs").exists()
    finally:
        log_file.unlink(missing_ok=True)
