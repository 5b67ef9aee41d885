"""Saving and resuming conversations per repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.chat import Citation, Turn
from assistant.session import SavedChat, Session, SessionStore
from base.config import Settings
from base.errors import UsageError


def test_store_round_trip_and_ordering(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    older = SavedChat("20240101-000000-aaaa", str(tmp_path), "m", 1.0, 1.0,
                      [Turn("user", "first question", created=1.0)])
    newer = SavedChat("20240102-000000-bbbb", str(tmp_path), "m", 2.0, 2.0,
                      [Turn("user", "second", created=2.0),
                       Turn("assistant", "see a.py:1-3", citations=[Citation("a.py", 1, 3)], created=2.0)],
                      pins={"ttl": 3, "turn": 1, "pins": [["a.py", "manual", 0]]})
    path = store.save(older)
    store.save(newer)
    assert path == tmp_path / ".repo-assistant" / "sessions" / "20240101-000000-aaaa.json"
    assert [c.id for c in store.list()] == [newer.id, older.id]
    loaded = store.latest()
    assert loaded is not None
    assert loaded.turns == newer.turns
    assert loaded.pins == newer.pins
    assert loaded.title == "second"
    assert not list((tmp_path / ".repo-assistant" / "sessions").glob(".tmp-*"))


def test_unreadable_chat_is_skipped_not_fatal(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.save(SavedChat("ok", str(tmp_path), "m", 1.0, 1.0, [Turn("user", "q")]))
    (store.directory / "broken.json").write_text("{not json", encoding="utf-8")
    assert [c.id for c in store.list()] == ["ok"]
    with pytest.raises(UsageError, match="unreadable"):
        store.load("broken")
    with pytest.raises(UsageError, match="no saved chat"):
        store.load("missing")


def test_session_saves_resumes_and_starts_clean(tmp_path: Path) -> None:
    session = Session(tmp_path, Settings())
    assert session.save() is None  # an empty chat writes nothing
    assert not (tmp_path / ".repo-assistant").exists()
    session.add_note("a note worth keeping")
    first_id = session.chat.id
    session.pins.add("a.py")
    session.save()
    session.new_chat()
    assert session.turns == []
    assert session.pins.paths() == []
    assert session.chat.id != first_id
    resumed = Session(tmp_path, Settings())
    chat = resumed.resume()
    assert chat.id == first_id
    assert [t.content for t in resumed.turns] == ["a note worth keeping"]
    assert resumed.pins.paths() == ["a.py"]
    data = json.loads((tmp_path / ".repo-assistant" / "sessions" / f"{first_id}.json").read_text())
    assert data["version"] == 1 and data["repo"] == str(tmp_path.resolve())


def test_resume_without_saved_chats_explains(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no saved chat"):
        Session(tmp_path, Settings()).resume()


def test_settings_are_used_whole_and_the_cpu_policy_decides_the_embedder_threads(tmp_path: Path) -> None:
    from base.cpu import CpuPolicy

    settings = Settings()
    shared = Session(tmp_path, settings, cpu=CpuPolicy(shared=True))
    assert shared.settings is settings and settings.index.threads == 0
    assert shared._index_settings().threads == 1  # next to the LLM in the TUI: one thread
    assert Session(tmp_path, settings)._index_settings().threads == 0  # a one-shot command: automatic
    settings.index.threads = 2
    assert shared._index_settings().threads == 2  # an explicit setting wins


def test_read_issue_from_text_and_glob(tmp_path: Path) -> None:
    (tmp_path / "ISSUES").mkdir()
    (tmp_path / "ISSUES" / "001-total-wrong.md").write_text("# Totals are wrong\nbody\n", encoding="utf-8")
    (tmp_path / "ISSUES" / "002-other.md").write_text("# Other\n", encoding="utf-8")
    session = Session(tmp_path, Settings())
    assert session.read_issue("@ISSUES/001-*.md") == ("ISSUES/001-total-wrong.md", "# Totals are wrong\nbody\n")
    assert session.read_issue("the total is wrong\nmore") == ("the total is wrong", "the total is wrong\nmore")
    with pytest.raises(UsageError, match="matches 2 files"):
        session.read_issue("@ISSUES/*.md")
    with pytest.raises(UsageError, match="no file matches"):
        session.read_issue("@nope/*.md")


def test_read_file_refuses_paths_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n", encoding="utf-8")
    session = Session(tmp_path, Settings())
    assert session.read_file("a.py") == "x = 1\n"
    with pytest.raises(UsageError, match="outside"):
        session.read_file("../etc/passwd")
    with pytest.raises(UsageError, match="cannot read"):
        session.read_file("missing.py")
