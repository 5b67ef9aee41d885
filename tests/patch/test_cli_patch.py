"""`repo-assistant patch` and `undo` through the real console script on a copy of sample_repo.

These use edit replies given with ``--reply`` (no model), so every verdict is
known in advance; the real model runs in ``test_patch_e2e.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, run_cli

TAX = "shopcore/pricing/tax.py"
ISSUE = "ISSUES/002-vat-one-cent-short.md"
TEST_CMD = (f'SAMPLE_REPO_ROOT="$PWD" {sys.executable} -m pytest -q -p no:cacheprovider '
            f'{PROJECT_ROOT / "tests" / "sample_tasks" / "task_002_vat_rounding.py"}')

RETURN_ONLY = f"""The rounding must be half-up.

{TAX}
```python
<<<<<<< SEARCH
    return (net * rate).quantize(CENT)
=======
    return quantize_money(net * rate)
>>>>>>> REPLACE
```
"""
FULL_FIX = f"""--- a/{TAX}
+++ b/{TAX}
@@ -12,1 +12,1 @@
-from shopcore.pricing.money import CENT, ZERO, quantize_money
+from shopcore.pricing.money import ZERO, quantize_money
@@ -78,1 +78,1 @@
     if net <= 0 or rate == 0:
         return ZERO
-    return (net * rate).quantize(CENT)
+    return quantize_money(net * rate)
"""
ESCAPE = "../../evil.py\n<<<<<<< SEARCH\n=======\nimport os\n>>>>>>> REPLACE\n"


@pytest.fixture
def replies(tmp_path: Path) -> list[Path]:
    paths = []
    for i, text in enumerate([RETURN_ONLY, FULL_FIX, ESCAPE], 1):
        path = tmp_path / f"reply{i}.md"
        path.write_text(text)
        paths.append(path)
    return paths


def _reply_args(paths: list[Path]) -> list[str]:
    return [arg for p in paths for arg in ("--reply", str(p))]


@pytest.mark.slow
def test_patch_report_apply_and_undo_round_trip(sample_repo_copy: Path, replies: list[Path]) -> None:
    repo = sample_repo_copy
    original = (repo / TAX).read_bytes()
    result = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, "--files", TAX, "--test-cmd", TEST_CMD,
                     *_reply_args(replies), "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    verdicts = {c["index"]: c for c in report["candidates"]}
    assert [c["index"] for c in report["candidates"]] == [2, 1, 3]
    assert verdicts[2]["verdict"] == "tests-pass" and verdicts[2]["validation"]["new_findings"] == []
    assert verdicts[1]["verdict"] == "tests-pass"
    assert [f["code"] for f in verdicts[1]["validation"]["new_findings"]] == ["F401"]  # CENT now unused
    assert verdicts[3]["verdict"] == "rejected" and "leaves the repository" in verdicts[3]["rejection"]
    assert report["best"] == 2 and "+    return quantize_money(net * rate)" in report["best_diff"]
    assert (repo / TAX).read_bytes() == original  # reviewing never writes

    text = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, *_reply_args(replies), cwd=repo)
    assert text.returncode == 0, text.stderr
    assert "Candidates (3 distinct of 3 samples)" in text.stdout
    assert "rejected" in text.stdout and "--- a/shopcore/pricing/tax.py" in text.stdout

    applied = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, "--files", TAX, *_reply_args(replies),
                      "--apply", "--yes", cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert "Applied patch" in applied.stdout
    gold = subprocess.run(["git", "apply", "--check", "-R",
                           str(PROJECT_ROOT / "tests" / "sample_tasks" / "002-vat-one-cent-short.patch")],
                          cwd=repo, capture_output=True, text=True)
    assert gold.returncode == 0, gold.stderr  # the tree now holds exactly the reference fix
    listing = run_cli("undo", "--repo", str(repo), "--list", "--json", cwd=repo)
    entries = json.loads(listing.stdout)
    assert len(entries) == 1 and entries[0]["status"] == "applied" and entries[0]["files"] == [TAX]

    undone = run_cli("undo", "--repo", str(repo), cwd=repo)
    assert undone.returncode == 0, undone.stderr
    assert (repo / TAX).read_bytes() == original
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True)
    assert status.stdout == ""  # nothing left behind (the state dir ignores itself)
    again = run_cli("undo", "--repo", str(repo), cwd=repo)
    assert again.returncode == 1 and "no applied patch" in again.stderr


def test_apply_refuses_dirty_file_and_needs_confirmation(sample_repo_copy: Path, replies: list[Path]) -> None:
    repo = sample_repo_copy
    with (repo / TAX).open("a") as handle:
        handle.write("\n# local experiment\n")
    dirty = (repo / TAX).read_bytes()
    result = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, "--reply", str(replies[0]), "--apply",
                     "--yes", cwd=repo)
    assert result.returncode == 1
    assert "uncommitted changes" in result.stderr and "--force" in result.stderr
    assert (repo / TAX).read_bytes() == dirty
    no_tty = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, "--reply", str(replies[0]), "--apply",
                     "--force", cwd=repo, input_text="y\n")
    assert no_tty.returncode == 2 and "--yes" in no_tty.stderr
    assert (repo / TAX).read_bytes() == dirty
    forced = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, "--reply", str(replies[0]), "--apply",
                     "--yes", "--force", cwd=repo)
    assert forced.returncode == 0, forced.stderr
    assert b"quantize_money(net * rate)" in (repo / TAX).read_bytes()
    assert run_cli("undo", "--repo", str(repo), cwd=repo).returncode == 0
    assert (repo / TAX).read_bytes() == dirty  # the uncommitted experiment is back too


def test_patch_errors_are_one_line(sample_repo_copy: Path, replies: list[Path]) -> None:
    repo = sample_repo_copy
    missing = run_cli("patch", "--repo", str(repo), "--issue", "nope.md", cwd=repo)
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    empty = run_cli("patch", "--repo", str(repo), "--issue", "-", cwd=repo, input_text="  \n")
    assert empty.returncode == 2 and "empty" in empty.stderr
    no_index = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, "--no-explain", cwd=repo)
    assert no_index.returncode != 0 and "repo-assistant index" in no_index.stderr
    assert no_index.stderr.strip().splitlines()[-1].startswith("repo-assistant: error: no index")
    assert "Loading" not in no_index.stderr  # fails before loading the model
    garbage = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, "--reply", str(replies[2]), "--apply",
                      "--yes", cwd=repo)
    assert garbage.returncode == 1 and "no candidate applies" in garbage.stderr
    assert not (repo.parent.parent / "evil.py").exists()


def _run_on_tty(args: list[str], cwd: Path, answer: str) -> str:
    """Run the CLI with a pseudo-terminal as stdin/stdout (the confirmation needs a terminal)."""
    import os
    import pty
    import select

    exe = Path(sys.executable).with_name("repo-assistant")
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(exe), *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    output = b""
    answered = False
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/N]" in output:
            os.write(master, answer.encode() + b"\n")
            answered = True
    proc.wait(timeout=60)
    os.close(master)
    return output.decode("utf-8", "replace")


@pytest.mark.slow
def test_apply_asks_on_a_terminal_and_only_yes_writes(sample_repo_copy: Path, replies: list[Path]) -> None:
    repo = sample_repo_copy
    original = (repo / TAX).read_bytes()
    args = ["patch", "--repo", str(repo), "--issue", ISSUE, "--reply", str(replies[1]), "--apply"]
    declined = _run_on_tty(args, repo, "n")
    assert "Apply this patch to 1 file(s)? [y/N]" in declined and "Not applied." in declined
    assert (repo / TAX).read_bytes() == original
    accepted = _run_on_tty(args, repo, "y")
    assert "Applied patch" in accepted
    assert b"quantize_money(net * rate)" in (repo / TAX).read_bytes()


def test_undo_removes_files_the_patch_created(sample_repo_copy: Path, tmp_path: Path) -> None:
    repo = sample_repo_copy
    reply = tmp_path / "reply.md"
    reply.write_text(
        "shopcore/pricing/rounding.py\n```python\n<<<<<<< SEARCH\n=======\n"
        "from decimal import ROUND_HALF_UP, Decimal\n\n\ndef half_up(value: Decimal) -> Decimal:\n"
        "    return value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)\n>>>>>>> REPLACE\n```\n"
        f"{TAX}\n```python\n<<<<<<< SEARCH\n    return (net * rate).quantize(CENT)\n=======\n"
        "    return quantize_money(net * rate)\n>>>>>>> REPLACE\n```\n")
    original = (repo / TAX).read_bytes()
    applied = run_cli("patch", "--repo", str(repo), "--issue", ISSUE, "--reply", str(reply), "--apply", "--yes",
                      "--json", cwd=repo)
    assert applied.returncode == 0, applied.stderr
    payload = json.loads(applied.stdout)
    assert sorted(payload["applied"]["files"]) == ["shopcore/pricing/rounding.py", TAX]
    assert payload["candidates"][0]["created"] == ["shopcore/pricing/rounding.py"]
    assert (repo / "shopcore/pricing/rounding.py").is_file()
    undone = run_cli("undo", "--repo", str(repo), "--json", cwd=repo)
    assert undone.returncode == 0, undone.stderr
    assert json.loads(undone.stdout) == {"id": payload["applied"]["id"], "status": "undone", "restored": [TAX],
                                         "removed": ["shopcore/pricing/rounding.py"]}
    assert not (repo / "shopcore/pricing/rounding.py").exists()
    assert (repo / TAX).read_bytes() == original
