"""File discovery: gitignore semantics at every level, default excludes, skip reasons, symlinks."""

from __future__ import annotations

import os
from pathlib import Path

from base.config import IndexSettings
from indexer.discover import discover


def _write(root: Path, rel: str, text: str = "x = 1\n") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_gitignore_levels_negation_info_exclude_and_project_ignore(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    for rel in ("a.py", "b.log", "keep.log", "sub/c.py", "sub/gen.py", "sub/deep/d.py", "tmp/x.py",
                "notes/private.md", "notes/public.md", "extra/e.py"):
        _write(repo, rel)
    (repo / ".git" / "info").mkdir(parents=True)
    (repo / ".git" / "info" / "exclude").write_text("notes/private.md\n")
    (repo / ".gitignore").write_text("*.log\n!keep.log\ntmp/\n")
    (repo / "sub" / ".gitignore").write_text("gen.py\n/deep/\n")
    (repo / ".repo-assistant-ignore").write_text("extra/\n")
    found = discover(repo, IndexSettings(exclude=["notes/public.md"]))
    paths = [f.path for f in found.files]
    assert paths == [".gitignore", ".repo-assistant-ignore", "a.py", "keep.log", "sub/.gitignore", "sub/c.py"]
    skipped = {s.path: s.reason for s in found.skipped}
    assert skipped == {"b.log": "ignored", "tmp/": "ignored", "sub/gen.py": "ignored", "sub/deep/": "ignored",
                       "notes/private.md": "ignored", "notes/public.md": "ignored", "extra/": "ignored"}


def test_default_excludes_sizes_secrets_and_virtualenvs(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    _write(repo, "main.py")
    _write(repo, "node_modules/pkg/index.js")
    _write(repo, "web/app.min.js")
    _write(repo, "package-lock.json", "{}")
    _write(repo, "env1/pyvenv.cfg", "home = /usr")
    _write(repo, "env1/lib/site.py")
    _write(repo, ".env", "SECRET=1")
    _write(repo, "certs/server.pem", "x")
    _write(repo, "big.py", "x" * 2000)
    _write(repo, ".repo-assistant/index/junk.py")
    found = discover(repo, IndexSettings(max_file_bytes=1000))
    assert [f.path for f in found.files] == ["main.py"]
    reasons = {s.path: s.reason for s in found.skipped}
    assert reasons == {"node_modules/": "ignored", "web/app.min.js": "ignored", "package-lock.json": "ignored",
                       "env1/": "ignored", ".env": "secret", "certs/server.pem": "secret", "big.py": "too large"}
    with_secrets = discover(repo, IndexSettings(max_file_bytes=1000, index_secrets=True))
    assert {".env", "certs/server.pem"} <= {f.path for f in with_secrets.files}


def test_symlinks_outside_and_loops_are_skipped(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _write(outside, "secret.py")
    repo = tmp_path / "r"
    _write(repo, "pkg/mod.py")
    os.symlink(outside, repo / "linked_out")
    os.symlink(outside / "secret.py", repo / "file_out.py")
    os.symlink(repo / "pkg", repo / "pkg" / "loop")
    os.symlink(repo / "pkg" / "mod.py", repo / "alias.py")
    os.symlink(repo / "missing.py", repo / "dangling.py")
    found = discover(repo, IndexSettings())
    assert [f.path for f in found.files] == ["alias.py", "pkg/mod.py"]
    reasons = {s.path: s.reason for s in found.skipped}
    assert reasons["linked_out"] == "symlink outside repo"
    assert reasons["file_out.py"] == "symlink outside repo"
    assert reasons["pkg/loop/"] == "symlink loop"
    assert reasons["dangling.py"] == "broken symlink"


def test_on_many_is_called_once_while_the_walk_goes_on_and_never_for_a_small_tree(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    for d in range(6):
        for n in range(10):
            _write(repo, f"pkg{d}/m{n}.py")
    seen: list[int] = []
    found: list = []

    def note() -> None:
        seen.append(len(found))  # ``found`` is still empty: the walk has not returned yet

    found = discover(repo, IndexSettings(), on_many=(25, note)).files
    assert len(found) == 60 and seen == [0]  # once, from inside the walk
    calls: list[int] = []
    discover(repo, IndexSettings(), on_many=(61, lambda: calls.append(1)))
    assert calls == []
