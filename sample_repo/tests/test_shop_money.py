from decimal import Decimal

import pytest
from shopcore.pricing.money import (
    allocate_proportionally,
    format_money,
    percent_of,
    quantize_money,
    sum_money,
    to_decimal,
    to_decimal_or_none,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12.50", Decimal("12.50")), (3, Decimal(3)), (0.1, Decimal("0.1")), (" 1_000 ", Decimal(1000))],
)
def test_to_decimal_accepts_common_inputs(value, expected):
    assert to_decimal(value) == expected


@pytest.mark.parametrize("value", [None, True, [1]])
def test_to_decimal_rejects_non_numbers(value):
    with pytest.raises(TypeError):
        to_decimal(value)


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity"])
def test_to_decimal_rejects_bad_text(value):
    with pytest.raises(ValueError):
        to_decimal(value)


def test_to_decimal_or_none_maps_null():
    assert to_decimal_or_none(None) is None
    assert to_decimal_or_none("2.5") == Decimal("2.5")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0.125", "0.13"), ("0.135", "0.14"), ("2.004", "2.00"), ("-0.125", "-0.13"), ("7", "7.00")],
)
def test_quantize_money_rounds_half_up(amount, expected):
    assert quantize_money(Decimal(amount)) == Decimal(expected)
    assert str(quantize_money(Decimal(amount))) == expected


def test_percent_and_sum():
    assert percent_of(Decimal("80.00"), Decimal("15")) == Decimal("12")
    assert sum_money([]) == Decimal("0.00")
    assert str(sum_money([Decimal("1.10"), Decimal("2.20")])) == "3.30"


def test_format_money():
    assert format_money(Decimal("1234.5")) == "1,234.50 EUR"
    assert format_money(Decimal("0"), "USD") == "0.00 USD"


def test_allocation_sums_exactly():
    parts = allocate_proportionally(Decimal("10.00"), [Decimal(1), Decimal(1), Decimal(1)])
    assert parts == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]
    assert sum(parts) == Decimal("10.00")


def test_allocation_is_proportional():
    parts = allocate_proportionally(Decimal("6.00"), [Decimal("20.00"), Decimal("40.00")])
    assert parts == [Decimal("2.00"), Decimal("4.00")]


def test_allocation_edge_cases():
    assert allocate_proportionally(Decimal("5"), []) == []
    assert allocate_proportionally(Decimal("0"), [Decimal(0), Decimal(0)]) == [Decimal("0.00")] * 2
    with pytest.raises(ValueError):
        allocate_proportionally(Decimal("1"), [Decimal(0)])
    with pytest.raises(ValueError):
        allocate_proportionally(Decimal("1"), [Decimal(-1), Decimal(2)])
