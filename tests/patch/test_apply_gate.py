"""One apply gate for both front ends: the CLI and the TUI's Session refuse exactly the same candidates."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.patch.apply import apply_candidate, list_backups
from assistant.patch.candidate import Candidate, build_candidate, judge
from assistant.patch.validate import validate_changes
from base.config import Settings
from base.errors import PatchError
from tests.conftest import run_cli

CALC = "def total(prices):\n    return sum(prices) + 1\n"
FIX = "calc.py\n<<<<<<< SEARCH\n    return sum(prices) + 1\n=======\n    return sum(prices)\n>>>>>>> REPLACE\n"
SYNTAX = "calc.py\n<<<<<<< SEARCH\n    return sum(prices) + 1\n=======\n    return sum(prices +\n>>>>>>> REPLACE\n"
NO_MATCH = "calc.py\n<<<<<<< SEARCH\n    return prices.sum()\n=======\n    return 0\n>>>>>>> REPLACE\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "c"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    return root


def _candidate(repo: Path, reply: str) -> Candidate:
    candidate = build_candidate(1, reply, repo, "search-replace", ["calc.py"], [])
    if candidate.changes and not candidate.rejection:
        candidate.validation = validate_changes(repo, candidate.changes)
        judge(candidate)
    return candidate


def _core(repo: Path, candidate: Candidate, force: bool) -> None:
    apply_candidate(repo, candidate, force=force, title="t")


def _session(repo: Path, candidate: Candidate, force: bool) -> None:
    from assistant.session import Session

    settings = Settings()
    settings.index.embeddings = False
    Session(repo, settings, persist=False).apply_patch(candidate, force=force, title="t")


FRONT_ENDS: dict[str, Callable[[Path, Candidate, bool], None]] = {"cli-gate": _core, "tui-session": _session}


@pytest.mark.parametrize("front_end", sorted(FRONT_ENDS))
@pytest.mark.parametrize(("case", "message"), [
    ("rejected", "rejected by validation"),
    ("syntax", "syntax errors"),
    ("dirty", "uncommitted changes"),
    ("changed", "changed since the patch was generated"),
])
def test_both_front_ends_refuse_the_same(repo: Path, front_end: str, case: str, message: str) -> None:
    reply = {"rejected": NO_MATCH, "syntax": SYNTAX}.get(case, FIX)
    if case == "dirty":
        (repo / "calc.py").write_text(CALC + "\n# local edit\n")
    candidate = _candidate(repo, reply)
    if case == "changed":
        (repo / "calc.py").write_text(CALC.replace("+ 1", "+ 2"))
    before = (repo / "calc.py").read_bytes()
    with pytest.raises(PatchError, match=message):
        FRONT_ENDS[front_end](repo, candidate, False)
    assert (repo / "calc.py").read_bytes() == before and not list_backups(repo)


@pytest.mark.parametrize("front_end", sorted(FRONT_ENDS))
def test_force_overrides_syntax_and_dirty_but_keeps_a_backup(repo: Path, front_end: str) -> None:
    (repo / "calc.py").write_text(CALC + "\n# local edit\n")
    candidate = _candidate(repo, SYNTAX)
    FRONT_ENDS[front_end](repo, candidate, True)
    assert "sum(prices +" in (repo / "calc.py").read_text() and len(list_backups(repo)) == 1


def test_cli_refuses_a_syntax_error_before_asking(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "issue.md").write_text("total is off by one\n")
    (tmp_path / "reply.md").write_text(SYNTAX)
    result = run_cli("--repo", str(repo), "patch", "--issue", str(tmp_path / "issue.md"), "--reply",
                     str(tmp_path / "reply.md"), "--files", "calc.py", "--no-tests", "--apply", "--yes")
    assert result.returncode != 0 and "syntax errors" in result.stderr
    assert (repo / "calc.py").read_text() == CALC
