"""The order workflow: drafts, checkout, payment, shipping and cancellation.

:class:`OrderService` is the entry point used by the CLI and the HTTP API.  It
coordinates the repositories, stock reservations and pricing; the price
itself is computed by :func:`shopcore.pricing.calculator.compute_order_total`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shopcore.errors import InvalidOrderStateError, ValidationError
from shopcore.inventory.reservations import ReservationManager
from shopcore.inventory.stock import StockLedger
from shopcore.models.order import Order, OrderStatus
from shopcore.pricing.calculator import OrderTotals, compute_order_total
from shopcore.pricing.discounts import parse_percent
from shopcore.storage.db import transaction
from shopcore.storage.repositories import (
    CouponRepository,
    CustomerRepository,
    OrderRepository,
    ProductRepository,
)
from shopcore.timeutil import utcnow

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class OrderItem:
    """A requested line: ``sku`` x ``quantity`` with an optional discount."""

    sku: str
    quantity: int
    discount_percent: Decimal | None = None

    @classmethod
    def parse(cls, text: str) -> OrderItem:
        """Parse ``SKU:QTY`` or ``SKU:QTY:DISCOUNT%`` (CLI syntax)."""
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValidationError(f"invalid item {text!r}, expected SKU:QTY[:DISCOUNT%]")
        try:
            quantity = int(parts[1])
        except ValueError as exc:
            raise ValidationError(f"invalid quantity in {text!r}") from exc
        discount = parse_percent(parts[2]) if len(parts) == 3 else None
        return cls(parts[0], quantity, discount)


class OrderService:
    def __init__(self, conn: sqlite3.Connection, clock: Clock = utcnow) -> None:
        self.conn = conn
        self.clock = clock
        self.products = ProductRepository(conn)
        self.customers = CustomerRepository(conn)
        self.coupons = CouponRepository(conn)
        self.orders = OrderRepository(conn)
        self.stock = StockLedger(conn)
        self.reservations = ReservationManager(conn, self.stock)

    # -- drafts ------------------------------------------------------------

    def create_draft(self, customer_id: int) -> Order:
        customer = self.customers.get(customer_id)
        order = Order(customer_id=customer_id, region=customer.region, created_at=self.clock())
        return self.orders.add(order)

    def add_item(self, order_id: int, item: OrderItem) -> Order:
        order = self.orders.get(order_id)
        order.add_line(self.products.get(item.sku), item.quantity, item.discount_percent)
        self.orders.save(order)
        return order

    def remove_item(self, order_id: int, sku: str) -> Order:
        order = self.orders.get(order_id)
        order.remove_line(sku)
        self.orders.save(order)
        return order

    def apply_coupon(self, order_id: int, code: str | None) -> Order:
        """Attach a coupon to a draft (``None`` removes it).

        The coupon's conditions are checked again at checkout.
        """
        order = self.orders.get(order_id)
        if order.status is not OrderStatus.DRAFT:
            raise InvalidOrderStateError(f"order {order_id} is {order.status}, not a draft")
        order.coupon = self.coupons.get(code) if code else None
        self.orders.save(order)
        return order

    # -- checkout ----------------------------------------------------------

    def place_order(self, order_id: int) -> OrderTotals:
        """Check out a draft: validate the coupon, reserve stock, freeze totals."""
        now = self.clock()
        with transaction(self.conn):
            order = self.orders.get(order_id)
            if order.status is not OrderStatus.DRAFT:
                raise InvalidOrderStateError(f"order {order_id} is {order.status}, not a draft")
            if not order.lines:
                raise InvalidOrderStateError(f"order {order_id} has no lines")
            for sku in order.quantities_by_sku():
                if not self.products.get(sku).active:
                    raise ValidationError(f"product {sku} is no longer available")
            if order.coupon is not None:
                subtotal = compute_order_total(order, coupon=None).subtotal
                order.coupon.check_applicable(subtotal, at=now)
            self.reservations.reserve_all(order_id, order.quantities_by_sku().items(), at=now)
            totals = compute_order_total(order)
            order.transition_to(OrderStatus.PLACED, at=now)
            self.orders.save(order, totals)
            if order.coupon is not None:
                self.coupons.record_use(order.coupon.code)
        return totals

    def quick_order(
        self,
        customer_id: int,
        items: Iterable[OrderItem],
        coupon_code: str | None = None,
    ) -> Order:
        """Create, fill and place an order in one step (used by ``order place``).

        If anything fails the draft is removed again, so no half-built order
        is left behind.
        """
        with transaction(self.conn):
            order = self.create_draft(customer_id)
            assert order.id is not None
            for item in items:
                self.add_item(order.id, item)
            if coupon_code:
                self.apply_coupon(order.id, coupon_code)
            self.place_order(order.id)
        return self.orders.get(order.id)

    # -- after checkout ----------------------------------------------------

    def mark_paid(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        order.transition_to(OrderStatus.PAID, at=self.clock())
        self.orders.save(order)
        return order

    def ship(self, order_id: int) -> Order:
        """Ship a paid order; its reserved units leave the warehouse."""
        with transaction(self.conn):
            order = self.orders.get(order_id)
            order.transition_to(OrderStatus.SHIPPED, at=self.clock())
            self.reservations.fulfil(order_id, at=self.clock())
            self.orders.save(order)
        return order

    def cancel(self, order_id: int) -> Order:
        """Cancel a draft or placed order and give its reserved stock back."""
        with transaction(self.conn):
            order = self.orders.get(order_id)
            order.transition_to(OrderStatus.CANCELLED, at=self.clock())
            self.reservations.release(order_id)
            self.orders.save(order)
        return order

    def get_order(self, order_id: int) -> Order:
        return self.orders.get(order_id)
