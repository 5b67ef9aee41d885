"""Stop strings in streamed text: never emit part of a stop string, hold back only what might be one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assistant.models.stops import StopCutter, safe_end


def test_cut_at_the_first_stop() -> None:
    assert safe_end("abc\n\ndef", 0, ["\n\n"], final=False) == (3, True)
    assert safe_end("abcEND", 2, ["END", "c"], final=False) == (2, True)


def test_holds_back_a_possible_stop_prefix() -> None:
    assert safe_end("abc<fi", 0, ["<file>"], final=False) == (3, False)
    assert safe_end("abc<fi", 0, ["<file>"], final=True) == (6, False)
    assert safe_end("abc\ufffd", 0, [], final=False) == (3, False)


def test_cutter_over_deltas() -> None:
    cutter = StopCutter(["STOP"])
    out = [cutter.feed(d) for d in ["hello S", "TO", "P world"]]
    assert "".join(out) == "hello "
    assert cutter.stopped and cutter.finish() == ""


@given(st.lists(st.text(alphabet="abS\nTOP", max_size=6), max_size=12))
def test_deltas_reassemble_to_the_text_before_the_stop(parts: list[str]) -> None:
    cutter = StopCutter(["STOP", "\n\n"])
    shown = "".join(cutter.feed(p) for p in parts) + cutter.finish()
    whole = "".join(parts)
    cut = min([i for i in (whole.find("STOP"), whole.find("\n\n")) if i != -1], default=len(whole))
    assert shown == whole[:cut]
