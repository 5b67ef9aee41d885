"""Discounts: per-line percentage discounts and order coupons.

Two kinds of reduction exist:

* a *line discount* - an optional percentage stored on an order line
  (``order_lines.discount_percent``; ``NULL`` means "no discount");
* a *coupon* - a code the customer enters at checkout, worth either a
  percentage of the order (``percent_off``) or a fixed amount (``amount_off``).

Coupon restrictions are all optional; a ``NULL`` column in the ``coupons``
table (``None`` here) means the restriction does not apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from shopcore.errors import CouponError, ValidationError
from shopcore.pricing.money import HUNDRED, ZERO, percent_of, quantize_money, to_decimal

COUPON_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,31}$")


def validate_percent(value: Decimal | None, what: str = "discount") -> Decimal | None:
    """Check that an optional percentage lies in ``(0, 100]``."""
    if value is None:
        return None
    value = to_decimal(value)
    if not ZERO < value <= HUNDRED:
        raise ValidationError(f"{what} must be between 0 and 100 percent, got {value}")
    return value


def parse_percent(text: str | None) -> Decimal | None:
    """Parse CLI/API input such as ``"15"``, ``"15%"`` or ``""`` (no discount)."""
    if text is None or not text.strip():
        return None
    try:
        return validate_percent(to_decimal(text.strip().rstrip("%")))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"invalid percentage {text!r}") from exc


def line_discount_amount(gross: Decimal, discount_percent: Decimal | None) -> Decimal:
    """Amount taken off a line by its own discount (``None`` means none)."""
    if discount_percent is None:
        return ZERO
    return quantize_money(percent_of(gross, discount_percent))


@dataclass(frozen=True)
class Coupon:
    """A checkout coupon.

    Exactly one of ``percent_off`` and ``amount_off`` is set.  ``valid_from``
    and ``valid_until`` are inclusive calendar days (UTC).  ``max_uses`` of
    ``None`` means unlimited; ``min_order_total`` of ``None`` means no minimum.
    """

    code: str
    percent_off: Decimal | None = None
    amount_off: Decimal | None = None
    min_order_total: Decimal | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    max_uses: int | None = None
    times_used: int = 0

    def __post_init__(self) -> None:
        code = self.code.strip().upper()
        if not COUPON_CODE_PATTERN.match(code):
            raise ValidationError(f"invalid coupon code {self.code!r}")
        object.__setattr__(self, "code", code)
        if (self.percent_off is None) == (self.amount_off is None):
            raise ValidationError("a coupon needs exactly one of percent_off and amount_off")
        object.__setattr__(self, "percent_off", validate_percent(self.percent_off, "percent_off"))
        if self.amount_off is not None:
            amount = quantize_money(self.amount_off)
            if amount <= 0:
                raise ValidationError("amount_off must be positive")
            object.__setattr__(self, "amount_off", amount)
        if self.min_order_total is not None:
            object.__setattr__(self, "min_order_total", quantize_money(self.min_order_total))
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValidationError("valid_from is after valid_until")
        if self.max_uses is not None and self.max_uses < 1:
            raise ValidationError("max_uses must be at least 1")

    @property
    def is_percentage(self) -> bool:
        return self.percent_off is not None

    def is_active_on(self, day: date) -> bool:
        """Whether ``day`` lies inside the (inclusive) validity window."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until

    def check_applicable(self, subtotal: Decimal, at: datetime) -> None:
        """Raise :class:`CouponError` unless the coupon may be used now.

        ``subtotal`` is the order amount after line discounts and before the
        coupon and VAT.
        """
        day = at.date()
        if not self.is_active_on(day):
            raise CouponError(f"coupon {self.code} is not valid on {day.isoformat()}")
        if self.max_uses is not None and self.times_used >= self.max_uses:
            raise CouponError(f"coupon {self.code} has been used up")
        if subtotal < self.min_order_total:
            raise CouponError(
                f"coupon {self.code} requires a minimum order of {self.min_order_total}"
            )

    def discount_for(self, subtotal: Decimal) -> Decimal:
        """The reduction this coupon gives on ``subtotal``, never more than it."""
        if self.percent_off is not None:
            return quantize_money(percent_of(subtotal, self.percent_off))
        assert self.amount_off is not None
        return min(self.amount_off, quantize_money(subtotal))

    def describe(self) -> str:
        """Short text such as ``SPRING10: 10% off`` or ``TENOFF: 10.00 off``."""
        if self.percent_off is not None:
            worth = f"{self.percent_off.normalize():f}% off"
        else:
            worth = f"{self.amount_off} off"
        extras = []
        if self.min_order_total is not None:
            extras.append(f"min. order {self.min_order_total}")
        if self.valid_until is not None:
            extras.append(f"until {self.valid_until.isoformat()}")
        if self.max_uses is not None:
            extras.append(f"{self.times_used}/{self.max_uses} used")
        suffix = f" ({', '.join(extras)})" if extras else ""
        return f"{self.code}: {worth}{suffix}"
