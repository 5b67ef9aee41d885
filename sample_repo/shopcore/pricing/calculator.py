"""Order price calculation.

This module is the one place where the price of an order is computed:
:func:`compute_order_total` turns an order's lines (plus an optional coupon)
into an :class:`OrderTotals` breakdown.  ``Order.totals`` / ``Order.total``
and :class:`shopcore.services.order_service.OrderService` both call it, and
the totals stored on a placed order are its result.

Pricing rules (see ``docs/pricing.md``):

1. each line's gross amount is ``unit_price * quantity`` rounded to cents;
2. the line's own percentage discount (if any) is subtracted;
3. a coupon reduces the order subtotal; the reduction is spread over the lines
   in proportion to their amounts so that VAT is charged on the discounted net;
4. VAT is computed per line on that net, rounded half up to cents;
5. the order total is net plus VAT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from shopcore.pricing.discounts import Coupon, line_discount_amount
from shopcore.pricing.money import ZERO, allocate_proportionally, quantize_money, sum_money
from shopcore.pricing.tax import TaxCategory, compute_tax, tax_rate_for

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from shopcore.models.order import Order, OrderLine


@dataclass(frozen=True)
class LineTotals:
    """Price breakdown of one order line."""

    sku: str
    quantity: int
    unit_price: Decimal
    gross: Decimal
    line_discount: Decimal
    coupon_discount: Decimal
    net: Decimal
    tax_rate: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.net + self.tax


@dataclass(frozen=True)
class OrderTotals:
    """Price breakdown of a whole order.

    ``subtotal`` is after line discounts but before the coupon; ``discount``
    is the sum of line discounts and the coupon reduction.
    """

    lines: tuple[LineTotals, ...]
    subtotal: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal
    total: Decimal
    currency: str = "EUR"

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly representation (amounts as strings)."""
        return {
            "currency": self.currency,
            "subtotal": str(self.subtotal),
            "discount": str(self.discount),
            "net": str(self.net),
            "tax": str(self.tax),
            "total": str(self.total),
            "lines": [
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                    "net": str(line.net),
                    "tax_rate": str(line.tax_rate),
                    "tax": str(line.tax),
                }
                for line in self.lines
            ],
        }


@dataclass(frozen=True)
class _DraftLine:
    line: OrderLine
    gross: Decimal
    line_discount: Decimal

    @property
    def base(self) -> Decimal:
        """Line amount after its own discount, before coupon and VAT."""
        return self.gross - self.line_discount


def _draft(line: OrderLine) -> _DraftLine:
    gross = quantize_money(line.unit_price * line.quantity)
    return _DraftLine(line, gross, line_discount_amount(gross, line.discount_percent))


def _finish(draft: _DraftLine, coupon_share: Decimal, region: str) -> LineTotals:
    line = draft.line
    net = draft.base - coupon_share
    rate = tax_rate_for(region, TaxCategory(line.tax_category))
    return LineTotals(
        sku=line.sku,
        quantity=line.quantity,
        unit_price=line.unit_price,
        gross=draft.gross,
        line_discount=draft.line_discount,
        coupon_discount=coupon_share,
        net=net,
        tax_rate=rate,
        tax=compute_tax(net, rate),
    )


def compute_lines_total(
    lines: Iterable[OrderLine], region: str, coupon: Coupon | None = None, currency: str = "EUR"
) -> OrderTotals:
    """Compute the totals for a set of lines shipped to ``region``.

    The coupon is applied as-is; whether it may be used at all (validity
    window, minimum order, usage limit) is checked by the caller through
    :meth:`Coupon.check_applicable`.
    """
    drafts = [_draft(line) for line in lines]
    subtotal = sum_money(d.base for d in drafts)
    line_discounts = sum_money(d.line_discount for d in drafts)

    shares = [ZERO] * len(drafts)
    coupon_discount = ZERO
    deducted_after_tax = ZERO
    if coupon is not None and drafts:
        coupon_discount = coupon.discount_for(subtotal)
        if coupon.amount_off is not None:
            # A fixed coupon is worth its face value: take it off the amount due.
            deducted_after_tax = coupon_discount
        else:
            shares = allocate_proportionally(coupon_discount, [d.base for d in drafts])

    totals = tuple(_finish(d, share, region) for d, share in zip(drafts, shares, strict=True))
    net = sum_money(line.net for line in totals) - deducted_after_tax
    tax = sum_money(line.tax for line in totals)
    return OrderTotals(
        lines=totals,
        subtotal=subtotal,
        discount=line_discounts + coupon_discount,
        net=net,
        tax=tax,
        total=net + tax,
        currency=currency,
    )


def compute_order_total(order: Order, coupon: Coupon | None = None) -> OrderTotals:
    """Compute the price of ``order``.

    ``coupon`` defaults to the coupon attached to the order (``order.coupon``).
    """
    if coupon is None:
        coupon = order.coupon
    return compute_lines_total(order.lines, order.region, coupon, order.currency)
