"""The staleness check without a walk: what the recorded walk vouches for, and every change that voids it."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from base.config import IndexSettings
from indexer import discover as discover_module
from indexer import store, walkstate
from indexer.discover import discover
from indexer.pipeline import index_repository
from indexer.reader import IndexReader

SETTINGS = IndexSettings(embeddings=False, max_file_bytes=2000)


def _age(repo: Path) -> None:
    """Every mtime an hour back: the walk is not racy, and any later change shows in a stat."""
    past = time.time_ns() - 3600 * 10**9
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if d != ".repo-assistant"]
        for name in filenames:
            os.utime(os.path.join(dirpath, name), ns=(past, past), follow_symlinks=False)
    for dirpath, _dirs, _files in os.walk(repo, topdown=False):
        if ".repo-assistant" not in Path(dirpath).parts:
            os.utime(dirpath, ns=(past, past))


def _indexed_repo(tmp_path: Path) -> Path:
    """A small repository, indexed with its walk recorded."""
    repo = tmp_path / "repo"
    files = {"pkg/a.py": "def a():\n    return 1\n", "pkg/b.py": "def b():\n    return 2\n",
             "docs/guide.md": "# Guide\n\nSome text.\n", "big.py": "x = 1\n" * 400, ".gitignore": "*.log\n",
             "env/pyvenv.cfg": "home = /usr\n", "env/lib/site.py": "import os\n", "app.log": "log\n",
             ".git/info/exclude": "# git's own ignore file, outside the walk\n"}
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    index_repository(repo, SETTINGS)  # creates .repo-assistant/, which changes the root's mtime
    _age(repo)
    index_repository(repo, SETTINGS)
    with _conn(repo) as conn:
        assert walkstate.holds(conn, repo.resolve(), SETTINGS)
    return repo


@contextlib.contextmanager
def _conn(repo: Path):  # type: ignore[no-untyped-def]
    conn = store.connect(store.db_path(repo))
    try:
        yield conn
    finally:
        conn.close()


def _stale(repo: Path) -> list[str]:
    with IndexReader.open(repo, SETTINGS) as reader:
        return reader.stale_files()


def _no_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("walked although the recorded walk holds")

    monkeypatch.setattr(discover_module, "discover", refuse)


def _rewrite_same_size(path: Path) -> None:
    data = path.read_bytes()
    edited = data.replace(b"return", b"retXrn", 1) if b"return" in data else data.replace(b"retXrn", b"return", 1)
    assert len(edited) == len(data) and edited != data
    path.write_bytes(edited)
    os.utime(path, ns=(time.time_ns(), time.time_ns()))


def test_edits_in_place_are_found_without_a_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _indexed_repo(tmp_path)
    _no_walk(monkeypatch)
    assert _stale(repo) == []
    target = repo / "pkg" / "a.py"
    original = target.read_bytes()
    _rewrite_same_size(target)
    assert _stale(repo) == ["pkg/a.py"]
    target.write_bytes(original)  # identical bytes, new mtime: the hash says unchanged
    assert _stale(repo) == []


def _new_file(repo: Path) -> None:
    (repo / "pkg" / "c.py").write_text("def c():\n    pass\n")


def _delete(repo: Path) -> None:
    (repo / "pkg" / "b.py").unlink()


def _rename(repo: Path) -> None:
    (repo / "pkg" / "b.py").rename(repo / "pkg" / "renamed.py")


def _ignore_rule(repo: Path) -> None:  # an ignore file edited in place: no directory changes
    with open(repo / ".gitignore", "a") as handle:
        handle.write("docs/\n")


def _info_exclude(repo: Path) -> None:
    with open(repo / ".git" / "info" / "exclude", "a") as handle:
        handle.write("pkg/b.py\n")


def _nested_ignore(repo: Path) -> None:
    (repo / "pkg" / ".gitignore").write_text("a.py\n")


def _unignore(repo: Path) -> None:
    (repo / ".gitignore").write_text("!app.log\n*.txt\n")


def _shrink_too_large(repo: Path) -> None:
    (repo / "big.py").write_text("x = 1\n")


def _venv_no_more(repo: Path) -> None:
    (repo / "env" / "pyvenv.cfg").unlink()


def _new_subdir(repo: Path) -> None:
    (repo / "pkg" / "sub").mkdir()
    (repo / "pkg" / "sub" / "d.py").write_text("d = 4\n")


@pytest.mark.parametrize(("change", "expected"), [
    (_new_file, ["pkg/c.py"]),
    (_delete, ["pkg/b.py"]),
    (_rename, ["pkg/b.py", "pkg/renamed.py"]),
    (_ignore_rule, [".gitignore", "docs/guide.md"]),
    (_info_exclude, ["pkg/b.py"]),
    (_nested_ignore, ["pkg/.gitignore", "pkg/a.py"]),
    (_unignore, [".gitignore", "app.log"]),
    (_shrink_too_large, ["big.py"]),
    (_venv_no_more, ["env/lib/site.py"]),
    (_new_subdir, ["pkg/sub/d.py"]),
])
def test_changes_a_walk_would_find_are_found(tmp_path: Path, change: Callable[[Path], None],
                                             expected: list[str]) -> None:
    repo = _indexed_repo(tmp_path)
    change(repo)
    assert _stale(repo) == expected
    index_repository(repo, SETTINGS)
    assert _stale(repo) == []


def test_a_clean_walk_is_recorded_for_the_next_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _indexed_repo(tmp_path)
    (repo / "pkg" / "debug.log").write_text("ignored\n")  # the directory changes, the indexed files do not
    _age(repo)
    with _conn(repo) as conn:
        assert not walkstate.holds(conn, repo.resolve(), SETTINGS)
    assert _stale(repo) == []  # walked, found nothing, recorded
    _no_walk(monkeypatch)
    assert _stale(repo) == []


def test_racy_and_volatile_walks_are_not_recorded(tmp_path: Path) -> None:
    repo = _indexed_repo(tmp_path)
    (repo / "pkg" / "c.py").write_text("c = 3\n")  # changed a moment ago: the same clock tick could hide more
    index_repository(repo, SETTINGS)
    with _conn(repo) as conn:
        assert not walkstate.holds(conn, repo.resolve(), SETTINGS)
    (repo / "dangling.py").symlink_to(repo / "nowhere.py")
    _age(repo)
    found = discover(repo, SETTINGS)
    assert found.volatile and not walkstate.is_recordable(found)


def test_other_settings_void_the_record(tmp_path: Path) -> None:
    repo = _indexed_repo(tmp_path)
    with _conn(repo) as conn:
        assert not walkstate.holds(conn, repo.resolve(), IndexSettings(embeddings=False, exclude=["docs/"]))
    with IndexReader.open(repo, IndexSettings(embeddings=False, exclude=["docs/"], max_file_bytes=2000)) as reader:
        assert reader.stale_files() == ["docs/guide.md"]


def test_replay_is_what_a_walk_finds(tmp_path: Path) -> None:
    repo = _indexed_repo(tmp_path).resolve()
    with _conn(repo) as conn:
        indexed = [row[0] for row in conn.execute("SELECT path FROM files")]
        replayed = walkstate.replay(conn, repo, SETTINGS, indexed)
    walked = discover(repo, SETTINGS)
    assert replayed is not None
    assert [(f.path, f.location, f.size, f.mtime_ns) for f in replayed.files] == \
        [(f.path, f.location, f.size, f.mtime_ns) for f in walked.files]
    assert sorted((s.path, s.reason) for s in replayed.skipped) == sorted((s.path, s.reason) for s in walked.skipped)
    assert (replayed.dirs, replayed.watched) == (walked.dirs, walked.watched)


def test_incremental_run_replays_and_a_cancelled_one_forgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _indexed_repo(tmp_path)
    with monkeypatch.context() as patched:
        _no_walk(patched)
        _rewrite_same_size(repo / "pkg" / "a.py")
        stats = index_repository(repo, SETTINGS)
        assert (stats.files_indexed, stats.files_unchanged) == (1, stats.files_seen - 1)
    _rewrite_same_size(repo / "pkg" / "a.py")
    _rewrite_same_size(repo / "pkg" / "b.py")
    cancel = threading.Event()
    cancel.set()
    assert index_repository(repo, SETTINGS, cancel=cancel).cancelled  # it stops after the first file
    with _conn(repo) as conn:
        assert conn.execute("SELECT COUNT(*) FROM walk_state").fetchone()[0] == 0
    assert _stale(repo) == ["pkg/b.py"]
