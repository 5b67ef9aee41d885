"""``undo --list`` shows every patch id whole, even on an 80-column terminal with long titles."""

from __future__ import annotations

import subprocess
from pathlib import Path

from assistant.patch.apply import apply_changes
from assistant.patch.changes import FileChange
from tests.conftest import run_cli


def test_undo_list_never_cuts_ids(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "package" / "subpackage").mkdir(parents=True)
    names = [f"package/subpackage/module_with_a_long_name_{i}.py" for i in range(4)]
    for name in names:
        (repo / name).write_text("x = 1\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init"],
                   cwd=repo, check=True)
    backup = apply_changes(repo, [FileChange(n, b"x = 1\n", b"x = 2\n") for n in names],
                           title="A rather long issue title that takes most of an eighty column terminal")
    result = run_cli("undo", "--list", "--repo", str(repo), env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert backup.id in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    undone = run_cli("undo", backup.id, "--repo", str(repo))
    assert undone.returncode == 0 and (repo / names[0]).read_text() == "x = 1\n"
