"""`patch --reply` in a repository with symlink loops: the scratch copy skips them, like the indexer."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from assistant.patch.scratch import ScratchCopy
from tests.conftest import run_cli

TAX = "shopcore/pricing/tax.py"
REPLY = (f"{TAX}\n```python\n<<<<<<< SEARCH\n    return (net * rate).quantize(CENT)\n=======\n"
         "    return quantize_money(net * rate)\n>>>>>>> REPLACE\n```\n")


def _add_loops(repo: Path) -> None:
    os.symlink("loop_b", repo / "loop_a")
    os.symlink("loop_a", repo / "loop_b")
    os.symlink("self", repo / "self")
    os.symlink("shopcore", repo / "alias")  # a good link inside the repository: kept
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "links"],
                   cwd=repo, check=True)


def test_scratch_copy_skips_symlink_loops(sample_repo_copy: Path) -> None:
    _add_loops(sample_repo_copy)
    with ScratchCopy(sample_repo_copy) as scratch:
        assert not any((scratch.root / name).is_symlink() for name in ("loop_a", "loop_b", "self"))
        assert os.readlink(scratch.root / "alias") == "shopcore"
        assert scratch.read(TAX) == (sample_repo_copy / TAX).read_bytes()


def test_patch_reply_in_a_repository_with_a_symlink_loop(sample_repo_copy: Path, tmp_path: Path) -> None:
    _add_loops(sample_repo_copy)
    reply = tmp_path / "reply.md"
    reply.write_text(REPLY)
    result = run_cli("patch", "--repo", str(sample_repo_copy), "--issue", "ISSUES/002-vat-one-cent-short.md",
                     "--reply", str(reply), "--json", cwd=sample_repo_copy)
    assert result.returncode == 0, result.stderr
    assert "Symlink loop" not in result.stderr
    candidate = json.loads(result.stdout)["candidates"][0]
    assert candidate["validation"]["applies"] is True and candidate["rejection"] is None
