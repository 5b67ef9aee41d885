"""Files pinned into the context: by the user, or automatically while they are in use.

Users pin files with ``/add`` and unpin them with ``/drop``; those stay until
dropped.  Files the conversation names (in a question, an ``@mention`` or an
answer's citations) or that a patch touches are pinned automatically and age:
each turn that does not use them again brings them closer to expiry, and after
``ttl`` such turns they are dropped.  The point is that the context follows the
conversation without the user curating it by hand, and every change is visible
(the inspector lists pins with their source, and the session reports what was
added or dropped).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MANUAL = "manual"
MENTIONED = "mentioned"
CITED = "cited"
PATCH = "patch"
AUTO_SOURCES = (MENTIONED, CITED, PATCH)
DEFAULT_TTL = 3


@dataclass
class Pin:
    """One pinned file: where it came from and the turn that last used it."""

    path: str
    source: str
    last_used: int

    @property
    def automatic(self) -> bool:
        return self.source != MANUAL


@dataclass
class PinChanges:
    """What one update did, so the UI can say it ("pinned order.py", "dropped tax.py")."""

    added: list[Pin] = field(default_factory=list)
    dropped: list[Pin] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.dropped)

    def describe(self) -> str:
        parts = [f"pinned {p.path} ({p.source})" for p in self.added]
        parts += [f"dropped {p.path} (unused for a while)" for p in self.dropped]
        return "; ".join(parts)


class PinSet:
    """The pinned files of one conversation, in the order they were pinned."""

    def __init__(self, ttl: int = DEFAULT_TTL) -> None:
        self.ttl = ttl
        self.turn = 0
        self._pins: dict[str, Pin] = {}

    def __contains__(self, path: object) -> bool:
        return path in self._pins

    def __len__(self) -> int:
        return len(self._pins)

    def pins(self) -> list[Pin]:
        return list(self._pins.values())

    def paths(self) -> list[str]:
        return list(self._pins)

    def get(self, path: str) -> Pin | None:
        return self._pins.get(path)

    def add(self, path: str, source: str = MANUAL) -> Pin:
        """Pin ``path``; a manual pin upgrades an automatic one and never expires."""
        pin = self._pins.get(path)
        if pin is None:
            pin = Pin(path, source, self.turn)
            self._pins[path] = pin
        elif source == MANUAL:
            pin.source = MANUAL
        pin.last_used = self.turn
        return pin

    def drop(self, path: str) -> Pin | None:
        """Unpin ``path`` whatever its source; returns the removed pin."""
        return self._pins.pop(path, None)

    def clear(self) -> None:
        self._pins.clear()

    def use(self, paths: Iterable[str], source: str) -> PinChanges:
        """Files used by the current turn: pin new ones automatically, refresh known ones."""
        changes = PinChanges()
        for path in paths:
            pin = self._pins.get(path)
            if pin is None:
                changes.added.append(self.add(path, source))
            else:
                pin.last_used = self.turn
        return changes

    def next_turn(self) -> PinChanges:
        """Advance one turn and drop automatic pins unused for ``ttl`` turns."""
        self.turn += 1
        changes = PinChanges()
        for path, pin in list(self._pins.items()):
            if pin.automatic and self.turn - pin.last_used > self.ttl:
                changes.dropped.append(self._pins.pop(path))
        return changes

    def to_json(self) -> dict[str, Any]:
        return {
            "ttl": self.ttl,
            "turn": self.turn,
            "pins": [[p.path, p.source, p.last_used] for p in self._pins.values()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PinSet:
        pins = cls(ttl=int(data.get("ttl", DEFAULT_TTL)))
        pins.turn = int(data.get("turn", 0))
        for path, source, last_used in data.get("pins", []):
            pins._pins[str(path)] = Pin(str(path), str(source), int(last_used))
        return pins
