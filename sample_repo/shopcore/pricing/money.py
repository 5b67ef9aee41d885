"""Money arithmetic on :class:`decimal.Decimal`.

All amounts in shopcore are ``Decimal`` values in the order currency.  Floats
are never used for money: they are accepted as *input* only and converted via
their shortest ``repr`` so that ``0.1`` becomes ``Decimal("0.1")``.

Rounding to cents always uses commercial rounding (``ROUND_HALF_UP``), the rule
printed on invoices: ``0.125`` becomes ``0.13``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)

Number = Decimal | int | str | float


def to_decimal(value: Number) -> Decimal:
    """Convert user or database input into a finite ``Decimal``.

    Raises ``TypeError`` for unsupported types (including ``None`` and
    ``bool``) and ``ValueError`` for text that is not a number.
    """
    if isinstance(value, bool) or value is None:
        raise TypeError(f"cannot convert {value!r} to an amount")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace("_", ""))
        except InvalidOperation as exc:
            raise ValueError(f"not a valid amount: {value!r}") from exc
    else:
        raise TypeError(f"cannot convert {type(value).__name__} to an amount")
    if not result.is_finite():
        raise ValueError(f"amount must be finite, got {value!r}")
    return result


def to_decimal_or_none(value: Number | None) -> Decimal | None:
    """Like :func:`to_decimal` but maps ``None`` (SQL ``NULL``) to ``None``."""
    if value is None:
        return None
    return to_decimal(value)


def quantize_money(amount: Decimal) -> Decimal:
    """Round an amount to whole cents, half up."""
    return to_decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    """``percent`` percent of ``amount``, *not* rounded."""
    return amount * percent / HUNDRED


def sum_money(amounts: Iterable[Decimal]) -> Decimal:
    """Sum amounts, returning ``0.00`` (not ``0``) for an empty iterable."""
    return sum(amounts, ZERO)


def format_money(amount: Decimal, currency: str = "EUR") -> str:
    """Human readable amount, e.g. ``1,234.50 EUR``."""
    return f"{quantize_money(amount):,.2f} {currency}"


def allocate_proportionally(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``amount`` into cent-exact parts proportional to ``weights``.

    The parts always add up to exactly ``amount`` (rounded to cents).  Cents
    that cannot be split evenly go to the parts with the largest remainders
    (ties: earlier parts first), the classic largest-remainder method.

    >>> allocate_proportionally(Decimal("10.00"), [Decimal("1"), Decimal("2")])
    [Decimal('3.33'), Decimal('6.67')]
    """
    if not weights:
        return []
    if any(weight < 0 for weight in weights):
        raise ValueError("weights must not be negative")
    total_cents = int(quantize_money(amount) / CENT)
    total_weight = sum(weights, Decimal(0))
    if total_weight == 0:
        if total_cents != 0:
            raise ValueError("cannot allocate a non-zero amount over zero weights")
        return [ZERO for _ in weights]
    exact = [Decimal(total_cents) * weight / total_weight for weight in weights]
    cents = [int(share) for share in exact]
    leftover = total_cents - sum(cents)
    by_remainder = sorted(
        range(len(weights)), key=lambda i: (exact[i] - cents[i], -i), reverse=True
    )
    for index in by_remainder[:leftover]:
        cents[index] += 1
    return [(Decimal(c) * CENT).quantize(CENT) for c in cents]
