"""Saved conversations: one JSON file per chat under ``<repo>/.repo-assistant/sessions/``.

Files are written atomically (temp file + rename) so a crash never leaves a
half-written chat; an unreadable file is skipped, never fatal.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.chat import Turn
from base.atomic import write_atomic
from base.errors import UsageError
from base.paths import ensure_dir, repo_data_dir

log = logging.getLogger(__name__)

SESSIONS_DIR_NAME = "sessions"


@dataclass
class SavedChat:
    """A conversation as stored on disk (one JSON file per chat)."""

    id: str
    repo: str
    model: str
    created: float
    updated: float
    turns: list[Turn] = field(default_factory=list)
    pins: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        first = next((t.content for t in self.turns if t.role == "user"), "")
        return " ".join(first.split())[:60] or "(empty chat)"


class SessionStore:
    """Saved chats of one repository under ``<repo>/.repo-assistant/sessions/``.

    Files are written atomically (temp file + rename) so a crash never leaves a
    half-written chat; an unreadable file is skipped, never fatal.
    """

    def __init__(self, repo: Path) -> None:
        self.directory = repo_data_dir(repo) / SESSIONS_DIR_NAME

    def save(self, chat: SavedChat) -> Path:
        ensure_dir(self.directory)
        payload = {
            "version": 1,
            "id": chat.id,
            "repo": chat.repo,
            "model": chat.model,
            "created": chat.created,
            "updated": chat.updated,
            "turns": [t.to_json() for t in chat.turns],
            "pins": chat.pins,
        }
        target = self.directory / f"{chat.id}.json"
        write_atomic(target, json.dumps(payload, indent=1), private=True)
        return target

    def load(self, chat_id: str) -> SavedChat:
        path = self.directory / f"{chat_id}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return SavedChat(
                id=str(data["id"]),
                repo=str(data.get("repo", "")),
                model=str(data.get("model", "")),
                created=float(data.get("created", 0.0)),
                updated=float(data.get("updated", 0.0)),
                turns=[Turn.from_json(t) for t in data.get("turns", [])],
                pins=dict(data.get("pins", {})),
            )
        except FileNotFoundError as exc:
            raise UsageError(f"no saved chat {chat_id!r}", hint="/resume without an id opens the latest") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"saved chat {path} is unreadable ({exc})", hint="delete the file") from exc

    def list(self) -> list[SavedChat]:
        """Saved chats, most recently updated first (unreadable files skipped)."""
        if not self.directory.is_dir():
            return []
        chats: list[SavedChat] = []
        for path in self.directory.glob("*.json"):
            try:
                chats.append(self.load(path.stem))
            except UsageError:
                log.warning("skipping unreadable chat %s", path)
        return sorted(chats, key=lambda c: c.updated, reverse=True)

    def latest(self) -> SavedChat | None:
        chats = self.list()
        return chats[0] if chats else None


def new_chat_id() -> str:
    """Sortable and unique: ``20250101-120000-ab12``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
