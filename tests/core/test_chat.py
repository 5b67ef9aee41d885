"""Parsing what the user types and what the model answers (pure text, no model)."""

from __future__ import annotations

import pytest

from assistant.chat import (
    COMMAND_NAMES,
    Citation,
    Turn,
    complete_command,
    find_citations,
    find_named_files,
    fuzzy_filter,
    parse_input,
)
from base.errors import UsageError

FILES = [
    "shopcore/models/order.py",
    "shopcore/pricing/calculator.py",
    "shopcore/pricing/tax.py",
    "shopcore/inventory/stock.py",
    "docs/pricing.md",
    "tests/test_order.py",
]


def test_free_text_is_a_question_with_mentions() -> None:
    parsed = parse_input("  where is the total of @shopcore/models/order.py computed? ")
    assert parsed.command == "ask"
    assert parsed.is_question
    assert parsed.argument == "where is the total of @shopcore/models/order.py computed?"
    assert parsed.mentions == ("shopcore/models/order.py",)


@pytest.mark.parametrize(
    ("text", "command", "argument"),
    [
        ("/explain Order.total", "explain", "Order.total"),
        ("/explain", "explain", ""),
        ("/EXPL  PriceCalculator ", "explain", "PriceCalculator"),
        ("/patch @ISSUES/001-*.md", "patch", "@ISSUES/001-*.md"),
        ("/search price rounding", "search", "price rounding"),
        ("/s rounding", "search", "rounding"),
        ("/model qwen2.5-coder-7b", "model", "qwen2.5-coder-7b"),
        ("/he", "help", ""),
        ("/c", None, None),  # complete or clear: ambiguous
    ],
)
def test_slash_commands(text: str, command: str | None, argument: str | None) -> None:
    if command is None:
        with pytest.raises(UsageError, match="ambiguous"):
            parse_input(text)
        return
    parsed = parse_input(text)
    assert (parsed.command, parsed.argument) == (command, argument)


def test_unknown_and_incomplete_commands_say_what_to_do() -> None:
    with pytest.raises(UsageError) as unknown:
        parse_input("/frobnicate x")
    assert "unknown command /frobnicate" in unknown.value.message
    assert "/explain" in (unknown.value.hint or "")
    with pytest.raises(UsageError) as missing:
        parse_input("/search   ")
    assert "/search needs QUERY" in missing.value.one_line()
    with pytest.raises(UsageError):
        parse_input("   ")


def test_double_slash_is_a_question() -> None:
    assert parse_input("//etc/hosts is a path").command == "ask"


def test_command_completion() -> None:
    assert complete_command("/ex") == ["/explain"]
    assert complete_command("/c") == ["/complete", "/clear"]
    assert complete_command("/") == [f"/{n}" for n in COMMAND_NAMES]
    assert complete_command("/zz") == []


def test_citations_are_found_and_resolved() -> None:
    answer = (
        "The price is computed in `compute_order_total` (shopcore/pricing/calculator.py:40-72), "
        "tax in tax.py:12 and again shopcore/pricing/calculator.py:40-72. A ratio 3.5:1 is not a file."
    )
    found = find_citations(answer, FILES)
    assert found == [
        Citation("shopcore/pricing/calculator.py", 40, 72),
        Citation("shopcore/pricing/tax.py", 12, 12),
    ]
    assert found[0].label == "shopcore/pricing/calculator.py:40-72"
    assert found[1].label == "shopcore/pricing/tax.py:12"
    # Without the file list every path:line shape counts (reversed ranges are normalised).
    assert find_citations("see a/b.py:9-3") == [Citation("a/b.py", 3, 9)]


def test_named_files() -> None:
    text = "compare order.py with shopcore/pricing/tax.py and @docs/pricing.md, not missing.py"
    assert find_named_files(text, FILES) == [
        "shopcore/models/order.py", "shopcore/pricing/tax.py", "docs/pricing.md",
    ]


def test_fuzzy_filter_ranks_basename_and_word_starts() -> None:
    assert fuzzy_filter("calc", FILES)[0] == "shopcore/pricing/calculator.py"
    assert fuzzy_filter("spt", FILES)[0] == "shopcore/pricing/tax.py"
    assert fuzzy_filter("zzz", FILES) == []
    assert len(fuzzy_filter("", FILES, limit=3)) == 3


def test_turn_round_trips_through_json() -> None:
    turn = Turn("assistant", "see a.py:1-2", "ask", [Citation("a.py", 1, 2)], created=5.0)
    assert Turn.from_json(turn.to_json()) == turn
