"""Pinned files: manual pins stay, automatic ones follow the conversation."""

from __future__ import annotations

from assistant.pinning import CITED, MANUAL, MENTIONED, PATCH, PinSet


def test_manual_pins_never_expire_and_automatic_ones_do() -> None:
    pins = PinSet(ttl=2)
    pins.add("a.py", MANUAL)
    added = pins.use(["b.py"], MENTIONED)
    assert [p.path for p in added.added] == ["b.py"]
    assert added.describe() == "pinned b.py (mentioned)"
    for _ in range(2):
        assert not pins.next_turn()
    dropped = pins.next_turn()
    assert [p.path for p in dropped.dropped] == ["b.py"]
    assert "dropped b.py" in dropped.describe()
    assert pins.paths() == ["a.py"]
    for _ in range(10):
        pins.next_turn()
    assert pins.paths() == ["a.py"]


def test_using_a_pin_again_keeps_it_alive() -> None:
    pins = PinSet(ttl=1)
    pins.use(["b.py"], PATCH)
    for _ in range(5):
        pins.next_turn()
        again = pins.use(["b.py"], CITED)
        assert not again.added
    assert pins.get("b.py") is not None
    assert pins.get("b.py").source == PATCH  # type: ignore[union-attr]


def test_manual_add_upgrades_an_automatic_pin_and_drop_removes_any() -> None:
    pins = PinSet(ttl=1)
    pins.use(["b.py"], MENTIONED)
    pins.add("b.py", MANUAL)
    for _ in range(5):
        pins.next_turn()
    assert "b.py" in pins
    assert pins.drop("b.py") is not None
    assert pins.drop("b.py") is None
    assert len(pins) == 0


def test_pins_round_trip_through_json() -> None:
    pins = PinSet(ttl=4)
    pins.add("a.py")
    pins.next_turn()
    pins.use(["b.py"], CITED)
    restored = PinSet.from_json(pins.to_json())
    assert restored.to_json() == pins.to_json()
    assert [(p.path, p.source, p.last_used) for p in restored.pins()] == [("a.py", MANUAL, 0), ("b.py", CITED, 1)]
