"""Orders and order lines.

An order starts as a ``DRAFT``, is ``PLACED`` at checkout (stock is reserved
and the totals are frozen), then ``PAID`` and ``SHIPPED``.  Draft and placed
orders can be ``CANCELLED``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from shopcore.errors import InvalidOrderStateError, ValidationError
from shopcore.models.product import Product, normalise_sku
from shopcore.pricing.calculator import OrderTotals, compute_order_total
from shopcore.pricing.discounts import Coupon, validate_percent
from shopcore.pricing.money import to_decimal
from shopcore.pricing.tax import TaxCategory, normalise_region
from shopcore.timeutil import ensure_utc, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

MAX_LINE_QUANTITY = 999


class OrderStatus(StrEnum):
    DRAFT = "draft"
    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.PLACED, OrderStatus.CANCELLED}),
    OrderStatus.PLACED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED}),
    OrderStatus.SHIPPED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

#: Statuses whose orders count as sales in reports.
SOLD_STATUSES = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.SHIPPED)


@dataclass
class OrderLine:
    """One product on an order, with the price frozen when it was added."""

    sku: str
    quantity: int
    unit_price: Decimal
    tax_category: TaxCategory = TaxCategory.STANDARD
    discount_percent: Decimal | None = None

    def __post_init__(self) -> None:
        self.sku = normalise_sku(self.sku)
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise ValidationError(f"quantity must be an integer, got {self.quantity!r}")
        if not 1 <= self.quantity <= MAX_LINE_QUANTITY:
            raise ValidationError(f"quantity must be between 1 and {MAX_LINE_QUANTITY}")
        self.unit_price = to_decimal(self.unit_price)
        if self.unit_price < 0:
            raise ValidationError("unit price must not be negative")
        self.tax_category = TaxCategory(self.tax_category)
        self.discount_percent = validate_percent(self.discount_percent)

    @classmethod
    def for_product(
        cls, product: Product, quantity: int, discount_percent: Decimal | None = None
    ) -> OrderLine:
        """A line for ``product`` at its current catalogue price."""
        if not product.active:
            raise ValidationError(f"product {product.sku} is not available")
        return cls(
            sku=product.sku,
            quantity=quantity,
            unit_price=product.unit_price,
            tax_category=product.tax_category,
            discount_percent=discount_percent,
        )


@dataclass
class Order:
    """A customer's order.  Prices are computed by :mod:`shopcore.pricing`."""

    customer_id: int
    region: str
    lines: list[OrderLine] = field(default_factory=list)
    status: OrderStatus = OrderStatus.DRAFT
    id: int | None = None
    currency: str = "EUR"
    coupon: Coupon | None = None
    created_at: datetime = field(default_factory=utcnow)
    placed_at: datetime | None = None

    def __post_init__(self) -> None:
        self.region = normalise_region(self.region)
        self.status = OrderStatus(self.status)
        self.created_at = ensure_utc(self.created_at)
        if self.placed_at is not None:
            self.placed_at = ensure_utc(self.placed_at)

    # -- lines -------------------------------------------------------------

    def __iter__(self) -> Iterator[OrderLine]:
        return iter(self.lines)

    @property
    def item_count(self) -> int:
        """Total number of units on the order."""
        return sum(line.quantity for line in self.lines)

    def _require_draft(self) -> None:
        if self.status is not OrderStatus.DRAFT:
            raise InvalidOrderStateError(f"order {self.id} is {self.status}, not a draft")

    def add_line(
        self, product: Product, quantity: int, discount_percent: Decimal | None = None
    ) -> OrderLine:
        """Add ``quantity`` units of ``product``.

        Adding a product that is already on the order with the same discount
        increases that line's quantity instead of creating a second line.
        """
        self._require_draft()
        new_line = OrderLine.for_product(product, quantity, discount_percent)
        for line in self.lines:
            if line.sku == new_line.sku and line.discount_percent == new_line.discount_percent:
                if line.quantity + quantity > MAX_LINE_QUANTITY:
                    raise ValidationError(f"quantity must be between 1 and {MAX_LINE_QUANTITY}")
                line.quantity += quantity
                return line
        self.lines.append(new_line)
        return new_line

    def remove_line(self, sku: str) -> None:
        """Remove every line for ``sku``."""
        self._require_draft()
        sku = normalise_sku(sku)
        remaining = [line for line in self.lines if line.sku != sku]
        if len(remaining) == len(self.lines):
            raise ValidationError(f"{sku} is not on order {self.id}")
        self.lines = remaining

    def quantities_by_sku(self) -> dict[str, int]:
        """Units per SKU across all lines (a SKU may appear on several lines)."""
        result: dict[str, int] = {}
        for line in self.lines:
            result[line.sku] = result.get(line.sku, 0) + line.quantity
        return result

    # -- status ------------------------------------------------------------

    def can_transition_to(self, status: OrderStatus) -> bool:
        return OrderStatus(status) in ALLOWED_TRANSITIONS[self.status]

    def transition_to(self, status: OrderStatus, at: datetime | None = None) -> None:
        """Move to ``status`` or raise :class:`InvalidOrderStateError`."""
        status = OrderStatus(status)
        if not self.can_transition_to(status):
            raise InvalidOrderStateError(f"cannot move order {self.id} from {self.status} to {status}")
        if status is OrderStatus.PLACED:
            if not self.lines:
                raise InvalidOrderStateError("cannot place an empty order")
            self.placed_at = ensure_utc(at) if at is not None else utcnow()
        self.status = status

    @property
    def is_open(self) -> bool:
        """Draft or placed orders may still change (or be cancelled)."""
        return self.status in (OrderStatus.DRAFT, OrderStatus.PLACED)

    # -- pricing -----------------------------------------------------------

    @property
    def totals(self) -> OrderTotals:
        """Full price breakdown, see :func:`shopcore.pricing.calculator.compute_order_total`."""
        return compute_order_total(self)

    @property
    def total(self) -> Decimal:
        """Amount the customer pays, VAT included."""
        return self.totals.total
