"""Exact, then whitespace- and indentation-tolerant matching; ambiguity and absence are rejected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.patch.matching import (
    EXACT,
    INDENTATION,
    SUBSTRING,
    TRAILING_WHITESPACE,
    MatchError,
    replace_once,
)

SOURCE = '''class Cart:
    def total(self):
        subtotal = sum(line.price for line in self.lines)
        if self.coupon:
            subtotal -= self.coupon.amount
        return subtotal

    def count(self):
        return len(self.lines)
'''


def test_exact_match() -> None:
    result = replace_once(SOURCE, "        return subtotal\n", "        return round(subtotal, 2)\n")
    assert result.strategy == EXACT
    assert "return round(subtotal, 2)" in result.content
    assert result.content.count("\n") == SOURCE.count("\n")
    assert result.start_line == 6


def test_trailing_whitespace_and_blank_edges_tolerated() -> None:
    search = "\n        if self.coupon:   \n            subtotal -= self.coupon.amount\t\n\n"
    replace = "\n        if self.coupon is not None:\n            subtotal -= self.coupon.amount\n\n"
    result = replace_once(SOURCE, search, replace)
    assert result.strategy == TRAILING_WHITESPACE
    assert "        if self.coupon is not None:\n            subtotal -= self.coupon.amount\n        return" \
        in result.content


def test_missing_indentation_is_restored_in_the_replacement() -> None:
    search = "if self.coupon:\n    subtotal -= self.coupon.amount\n"
    replace = "if self.coupon:\n    subtotal -= min(self.coupon.amount, subtotal)\n"
    result = replace_once(SOURCE, search, replace)
    assert result.strategy == INDENTATION
    assert "        if self.coupon:\n            subtotal -= min(self.coupon.amount, subtotal)\n" in result.content


def test_extra_indentation_is_removed_in_the_replacement() -> None:
    search = "            def count(self):\n                return len(self.lines)\n"
    replace = "            def count(self):\n                return sum(1 for _ in self.lines)\n"
    result = replace_once(SOURCE, search, replace)
    assert result.strategy == INDENTATION
    assert result.content.endswith("    def count(self):\n        return sum(1 for _ in self.lines)\n")


def test_inconsistent_indentation_is_not_a_match() -> None:
    search = "if self.coupon:\n        subtotal -= self.coupon.amount\n"  # inner line shifted differently
    with pytest.raises(MatchError) as info:
        replace_once(SOURCE, search, "x\n")
    assert info.value.kind == "no-match"


def test_partial_line_substring_respects_identifier_boundaries() -> None:
    result = replace_once(SOURCE, "len(self.lines)", "len(self.lines or [])")
    assert result.strategy == SUBSTRING
    assert "return len(self.lines or [])" in result.content
    with pytest.raises(MatchError):
        replace_once("maximum = 1\n", "imum = 1", "x")  # would cut an identifier


def test_multi_match_is_rejected_not_guessed() -> None:
    text = "a = 1\nb = 2\na = 1\n"
    with pytest.raises(MatchError) as info:
        replace_once(text, "a = 1\n", "a = 3\n")
    assert info.value.kind == "multi-match"
    assert "lines 1, 3" in str(info.value)


def test_no_match_and_empty_search() -> None:
    with pytest.raises(MatchError) as info:
        replace_once(SOURCE, "return total * 2\n", "x\n")
    assert info.value.kind == "no-match"
    with pytest.raises(MatchError) as info:
        replace_once(SOURCE, "\n  \n", "x\n")
    assert info.value.kind == "empty-search"


def test_deleting_lines_and_keeping_final_newline_state() -> None:
    result = replace_once("a\nb\nc", "b\n", "")
    assert result.content == "a\nc"
    result = replace_once("a\nb\nc\n", "c\n", "d\n")
    assert result.content == "a\nb\nd\n"


lines_st = st.lists(st.text(alphabet="abc xyz_()=:", min_size=0, max_size=12), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(lines=lines_st, start=st.integers(0, 11), length=st.integers(1, 4))
def test_exact_unique_block_always_replaced_in_place(lines: list[str], start: int, length: int) -> None:
    """If a block of lines occurs exactly once, replacing it changes exactly those lines."""
    lines = [f"{i}:{line}" for i, line in enumerate(lines)]  # unique lines
    start = min(start, len(lines) - 1)
    block = lines[start:start + length]
    content = "\n".join(lines) + "\n"
    result = replace_once(content, "\n".join(block) + "\n", "NEW\n")
    assert result.strategy == EXACT
    expected = [*lines[:start], "NEW", *lines[start + len(block):]]
    assert result.content == "\n".join(expected) + "\n"
