"""Paths a patch may not touch: escapes, absolute paths, symlinks out, .git, the state dir, binaries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.patch.safety import UnsafePath, is_binary, normalise_relpath, read_target, resolve_in_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("x = 1\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    return root


@pytest.mark.parametrize("path", [
    "../outside.py", "pkg/../../outside.py", "/etc/passwd", "~/.bashrc", "C:/Windows/x.py",
    ".git/hooks/pre-commit", "pkg/.git/config", ".GIT/config", ".repo-assistant/backups/x/manifest.json",
    "", "   ", "pkg\\mod.py", "pkg/mod.py\x00", "a\nb.py",
])
def test_unsafe_relative_paths_rejected(path: str) -> None:
    with pytest.raises(UnsafePath):
        normalise_relpath(path)


def test_normalises_harmless_spellings() -> None:
    assert normalise_relpath("./pkg//mod.py") == "pkg/mod.py"
    assert normalise_relpath(" pkg/mod.py ") == "pkg/mod.py"


def test_symlink_leaving_the_repo_is_rejected(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("s = 1\n")
    os.symlink(outside, repo / "linkdir")
    with pytest.raises(UnsafePath, match="leaves the repository"):
        resolve_in_repo(repo, "linkdir/secret.py")
    with pytest.raises(UnsafePath, match="leaves the repository"):
        resolve_in_repo(repo, "linkdir/new_file.py")


def test_symlink_file_and_symlink_into_git_are_rejected(repo: Path) -> None:
    os.symlink(repo / "pkg" / "mod.py", repo / "alias.py")
    with pytest.raises(UnsafePath, match="symlink"):
        resolve_in_repo(repo, "alias.py")
    os.symlink(repo / ".git", repo / "gitlink")
    with pytest.raises(UnsafePath, match=r"\.git"):
        resolve_in_repo(repo, "gitlink/config")


def test_symlinked_directory_inside_the_repo_is_allowed(repo: Path) -> None:
    os.symlink(repo / "pkg", repo / "pkg_alias")
    assert resolve_in_repo(repo, "pkg_alias/mod.py") == repo.resolve() / "pkg_alias" / "mod.py"


def test_directory_binary_and_missing_targets(repo: Path) -> None:
    with pytest.raises(UnsafePath, match="not a regular file"):
        resolve_in_repo(repo, "pkg")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UnsafePath, match="binary"):
        read_target(repo, "logo.png")
    (repo / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(UnsafePath, match="binary"):
        read_target(repo, "latin1.txt")
    target, data = read_target(repo, "pkg/new.py")
    assert data is None and target == repo.resolve() / "pkg" / "new.py"
    assert read_target(repo, "pkg/mod.py")[1] == b"x = 1\n"


def test_is_binary() -> None:
    assert not is_binary("déjà vu\n".encode())
    assert is_binary(b"abc\x00def")
