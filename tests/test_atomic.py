"""The one atomic write: the old content or the new, the right permissions, no temporary file left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from base.atomic import atomic_file, write_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_replaces_content_text_and_bytes(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    write_atomic(target, "héllo\r\nworld")
    assert target.read_bytes() == "héllo\r\nworld".encode()  # newlines untouched
    write_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_permissions_usual_kept_or_private(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        plain = tmp_path / "plain"
        write_atomic(plain, "x")
        assert _mode(plain) == 0o644
        script = tmp_path / "run.sh"
        script.write_text("old")
        script.chmod(0o750)
        write_atomic(script, "new", keep_mode=True)
        assert _mode(script) == 0o750 and script.read_text() == "new"
        chat = tmp_path / "chat.json"
        write_atomic(chat, "{}", private=True, fsync=True)
        assert _mode(chat) == 0o600
    finally:
        os.umask(umask)


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
