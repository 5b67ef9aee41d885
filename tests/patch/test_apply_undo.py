"""The review gate: atomic apply with backups, byte-for-byte undo, refusal on dirty files, crash safety."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from assistant.patch import apply as apply_module
from assistant.patch.apply import APPLIED, UNDONE, apply_changes, dirty_files, list_backups, undo
from assistant.patch.changes import FileChange
from base.errors import PatchError

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_bytes(b"a = 1\r\nb = 2\r\n")  # CRLF, must come back as is
    (root / "pkg" / "b.py").write_bytes(b"x = 1")  # no final newline
    (root / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "run.sh", 0o755)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "init"], cwd=root, check=True)
    return root


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith((".git/", ".repo-assistant/")):
            found[rel] = (path.read_bytes(), os.stat(path).st_mode & 0o777)
    return found


def _changes(repo: Path) -> list[FileChange]:
    return [
        FileChange("pkg/a.py", (repo / "pkg/a.py").read_bytes(), b"a = 1\r\nb = 3\r\n"),
        FileChange("pkg/b.py", (repo / "pkg/b.py").read_bytes(), b"x = 2\n"),
        FileChange("run.sh", (repo / "run.sh").read_bytes(), b"#!/bin/sh\necho bye\n"),
        FileChange("pkg/sub/new.py", None, b"NEW = True\n"),
    ]


def test_apply_then_undo_restores_exact_bytes_and_modes(repo: Path) -> None:
    before = _snapshot(repo)
    backup = apply_changes(repo, _changes(repo), title="Fix things")
    assert backup.status == APPLIED
    assert (repo / "pkg/a.py").read_bytes() == b"a = 1\r\nb = 3\r\n"
    assert (repo / "pkg/sub/new.py").read_bytes() == b"NEW = True\n"
    assert os.stat(repo / "run.sh").st_mode & 0o777 == 0o755
    assert (repo / ".repo-assistant" / "backups" / backup.id / "files" / "pkg" / "a.py").read_bytes() \
        == b"a = 1\r\nb = 2\r\n"
    assert [b.id for b in list_backups(repo)] == [backup.id]
    undone = undo(repo)
    assert undone.id == backup.id and undone.status == UNDONE
    assert _snapshot(repo) == before
    assert not (repo / "pkg" / "sub").exists()  # the directory the patch created is gone too
    with pytest.raises(PatchError, match="no applied patch"):
        undo(repo)
    with pytest.raises(PatchError, match="already undone"):
        undo(repo, backup.id)


def test_refuses_dirty_files_unless_forced(repo: Path) -> None:
    (repo / "pkg/b.py").write_bytes(b"x = 99")  # uncommitted edit
    assert dirty_files(repo, ["pkg/b.py", "pkg/a.py"]) == ["pkg/b.py"]
    changes = [FileChange("pkg/b.py", b"x = 99", b"x = 100")]
    before = _snapshot(repo)
    with pytest.raises(PatchError, match="uncommitted changes"):
        apply_changes(repo, changes)
    assert _snapshot(repo) == before
    assert list_backups(repo) == []
    backup = apply_changes(repo, changes, force=True)
    assert (repo / "pkg/b.py").read_bytes() == b"x = 100"
    undo(repo, backup.id)
    assert (repo / "pkg/b.py").read_bytes() == b"x = 99"  # the uncommitted bytes are back


def test_untracked_file_counts_as_dirty(repo: Path) -> None:
    (repo / "notes.py").write_text("draft\n")
    with pytest.raises(PatchError, match=r"notes\.py has uncommitted"):
        apply_changes(repo, [FileChange("notes.py", b"draft\n", b"final\n")])


def test_refuses_when_file_changed_since_generation(repo: Path) -> None:
    changes = [FileChange("pkg/b.py", b"x = 0", b"x = 2")]
    with pytest.raises(PatchError, match="changed since the patch was generated"):
        apply_changes(repo, changes)
    with pytest.raises(PatchError, match="now exists"):
        apply_changes(repo, [FileChange("pkg/a.py", None, b"z")])


def test_refuses_unsafe_paths(repo: Path) -> None:
    with pytest.raises(PatchError, match="refusing"):
        apply_changes(repo, [FileChange(".git/config", None, b"[core]\n")])
    with pytest.raises(PatchError, match="refusing"):
        apply_changes(repo, [FileChange("../escape.py", None, b"x")])


def test_crash_halfway_through_applying_leaves_files_unchanged(repo: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    before = _snapshot(repo)
    calls = {"n": 0}
    real = apply_module._replace

    def flaky(src: Path, dst: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(apply_module, "_replace", flaky)
    with pytest.raises(PatchError, match="no file was changed"):
        apply_changes(repo, _changes(repo))
    assert calls["n"] >= 3  # the first file was renamed, then put back
    assert _snapshot(repo) == before
    assert not (repo / "pkg" / "sub").exists()
    assert list_backups(repo) == []
    leftovers = [p.name for p in repo.rglob("*.tmp")] + [p.name for p in repo.rglob("*.rollback")]
    assert leftovers == []


def test_undo_refuses_files_edited_after_apply_unless_forced(repo: Path) -> None:
    backup = apply_changes(repo, _changes(repo))
    (repo / "pkg/b.py").write_text("user edit\n")
    with pytest.raises(PatchError, match="changed after the patch"):
        undo(repo)
    assert (repo / "pkg/a.py").read_bytes() == b"a = 1\r\nb = 3\r\n"  # nothing restored
    undo(repo, backup.id, force=True)
    assert (repo / "pkg/b.py").read_bytes() == b"x = 1"


def test_undo_after_an_interrupted_apply(repo: Path) -> None:
    """A crash between renames leaves an 'applying' record; undo restores what was renamed."""
    before = _snapshot(repo)
    backup = apply_changes(repo, _changes(repo))
    manifest = repo / ".repo-assistant" / "backups" / backup.id / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"applied"', '"applying"'))
    (repo / "pkg/b.py").write_bytes(b"x = 1")  # as if the crash came before this file's rename
    undo(repo)
    assert _snapshot(repo) == before


def test_outside_git_apply_works_with_backup(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "m.py").write_text("v = 1\n")
    apply_changes(root, [FileChange("m.py", b"v = 1\n", b"v = 2\n")])
    assert (root / "m.py").read_text() == "v = 2\n"
    undo(root)
    assert (root / "m.py").read_text() == "v = 1\n"
