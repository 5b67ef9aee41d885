"""Repositories: mapping between SQLite rows and model objects.

Each repository wraps one aggregate (products, customers, coupons, orders).
Decimal columns are stored as text; nullable columns map to ``None``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from shopcore.errors import NotFoundError, ValidationError
from shopcore.models.customer import Customer
from shopcore.models.order import Order, OrderLine, OrderStatus
from shopcore.models.product import Product, normalise_sku
from shopcore.pricing.calculator import OrderTotals
from shopcore.pricing.discounts import Coupon
from shopcore.pricing.money import to_decimal, to_decimal_or_none
from shopcore.pricing.tax import TaxCategory
from shopcore.storage.db import transaction
from shopcore.timeutil import from_iso, to_iso


def _text_or_none(value: object | None) -> str | None:
    return None if value is None else str(value)


def _date_or_none(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


class ProductRepository:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @staticmethod
    def _from_row(row: sqlite3.Row) -> Product:
        return Product(
            sku=row["sku"],
            name=row["name"],
            unit_price=to_decimal(row["unit_price"]),
            tax_category=TaxCategory(row["tax_category"]),
            active=bool(row["active"]),
        )

    def add(self, product: Product) -> Product:
        try:
            self.conn.execute(
                "INSERT INTO products (sku, name, unit_price, tax_category, active)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    product.sku,
                    product.name,
                    str(product.unit_price),
                    product.tax_category.value,
                    int(product.active),
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise ValidationError(f"product {product.sku} already exists") from exc
        return product

    def get(self, sku: str) -> Product:
        row = self.conn.execute(
            "SELECT * FROM products WHERE sku = ?", (normalise_sku(sku),)
        ).fetchone()
        if row is None:
            raise NotFoundError("product", sku)
        return self._from_row(row)

    def list(self, *, include_inactive: bool = False) -> list[Product]:
        sql = "SELECT * FROM products"
        if not include_inactive:
            sql += " WHERE active = 1"
        return [self._from_row(row) for row in self.conn.execute(sql + " ORDER BY sku")]

    def update(self, product: Product) -> None:
        cursor = self.conn.execute(
            "UPDATE products SET name = ?, unit_price = ?, tax_category = ?, active = ?"
            " WHERE sku = ?",
            (
                product.name,
                str(product.unit_price),
                product.tax_category.value,
                int(product.active),
                product.sku,
            ),
        )
        if cursor.rowcount == 0:
            raise NotFoundError("product", product.sku)


class CustomerRepository:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @staticmethod
    def _from_row(row: sqlite3.Row) -> Customer:
        return Customer(
            id=row["id"],
            email=row["email"],
            name=row["name"],
            region=row["region"],
            created_at=from_iso(row["created_at"]),
        )

    def add(self, customer: Customer) -> Customer:
        try:
            cursor = self.conn.execute(
                "INSERT INTO customers (email, name, region, created_at) VALUES (?, ?, ?, ?)",
                (customer.email, customer.name, customer.region, to_iso(customer.created_at)),
            )
        except sqlite3.IntegrityError as exc:
            raise ValidationError(f"a customer with e-mail {customer.email} exists") from exc
        customer.id = cursor.lastrowid
        return customer

    def get(self, customer_id: int) -> Customer:
        row = self.conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
        if row is None:
            raise NotFoundError("customer", customer_id)
        return self._from_row(row)

    def find_by_email(self, email: str) -> Customer | None:
        row = self.conn.execute(
            "SELECT * FROM customers WHERE email = ?", (email.strip().lower(),)
        ).fetchone()
        return None if row is None else self._from_row(row)

    def list(self) -> list[Customer]:
        return [self._from_row(r) for r in self.conn.execute("SELECT * FROM customers ORDER BY id")]


class CouponRepository:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @staticmethod
    def _from_row(row: sqlite3.Row) -> Coupon:
        return Coupon(
            code=row["code"],
            percent_off=to_decimal_or_none(row["percent_off"]),
            amount_off=to_decimal_or_none(row["amount_off"]),
            min_order_total=to_decimal_or_none(row["min_order_total"]),
            valid_from=_date_or_none(row["valid_from"]),
            valid_until=_date_or_none(row["valid_until"]),
            max_uses=row["max_uses"],
            times_used=row["times_used"],
        )

    def add(self, coupon: Coupon) -> Coupon:
        try:
            self.conn.execute(
                "INSERT INTO coupons (code, percent_off, amount_off, min_order_total,"
                " valid_from, valid_until, max_uses, times_used)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    coupon.code,
                    _text_or_none(coupon.percent_off),
                    _text_or_none(coupon.amount_off),
                    _text_or_none(coupon.min_order_total),
                    _text_or_none(coupon.valid_from),
                    _text_or_none(coupon.valid_until),
                    coupon.max_uses,
                    coupon.times_used,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise ValidationError(f"coupon {coupon.code} already exists") from exc
        return coupon

    def get(self, code: str) -> Coupon:
        row = self.conn.execute(
            "SELECT * FROM coupons WHERE code = ?", (code.strip().upper(),)
        ).fetchone()
        if row is None:
            raise NotFoundError("coupon", code)
        return self._from_row(row)

    def list(self) -> list[Coupon]:
        return [self._from_row(r) for r in self.conn.execute("SELECT * FROM coupons ORDER BY code")]

    def record_use(self, code: str) -> None:
        self.conn.execute("UPDATE coupons SET times_used = times_used + 1 WHERE code = ?", (code,))


@dataclass(frozen=True)
class OrderSummary:
    """A row of the order list: enough to display without loading lines."""

    id: int
    customer_id: int
    status: OrderStatus
    placed_at: str | None
    grand_total: str | None
    currency: str


class OrderRepository:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.coupons = CouponRepository(conn)

    def _lines(self, order_id: int) -> list[OrderLine]:
        rows = self.conn.execute(
            "SELECT * FROM order_lines WHERE order_id = ? ORDER BY position", (order_id,)
        )
        return [
            OrderLine(
                sku=row["sku"],
                quantity=row["quantity"],
                unit_price=to_decimal(row["unit_price"]),
                tax_category=TaxCategory(row["tax_category"]),
                discount_percent=to_decimal_or_none(row["discount_percent"]),
            )
            for row in rows
        ]

    def _from_row(self, row: sqlite3.Row) -> Order:
        coupon = self.coupons.get(row["coupon_code"]) if row["coupon_code"] else None
        return Order(
            id=row["id"],
            customer_id=row["customer_id"],
            region=row["region"],
            status=OrderStatus(row["status"]),
            currency=row["currency"],
            coupon=coupon,
            created_at=from_iso(row["created_at"]),
            placed_at=from_iso(row["placed_at"]) if row["placed_at"] else None,
            lines=self._lines(row["id"]),
        )

    def _write_lines(self, order_id: int, lines: Iterable[OrderLine]) -> None:
        self.conn.execute("DELETE FROM order_lines WHERE order_id = ?", (order_id,))
        self.conn.executemany(
            "INSERT INTO order_lines (order_id, position, sku, quantity, unit_price,"
            " tax_category, discount_percent) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    order_id,
                    position,
                    line.sku,
                    line.quantity,
                    str(line.unit_price),
                    line.tax_category.value,
                    _text_or_none(line.discount_percent),
                )
                for position, line in enumerate(lines, start=1)
            ],
        )

    def add(self, order: Order) -> Order:
        """Insert a new order with its lines; sets ``order.id``."""
        with transaction(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO orders (customer_id, status, region, currency, coupon_code,"
                " created_at, placed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    order.customer_id,
                    order.status.value,
                    order.region,
                    order.currency,
                    order.coupon.code if order.coupon else None,
                    to_iso(order.created_at),
                    to_iso(order.placed_at) if order.placed_at else None,
                ),
            )
            order.id = cursor.lastrowid
            self._write_lines(order.id, order.lines)
        return order

    def save(self, order: Order, totals: OrderTotals | None = None) -> None:
        """Update an existing order, its lines and (optionally) frozen totals."""
        if order.id is None:
            raise ValueError("order has not been added yet")
        with transaction(self.conn):
            cursor = self.conn.execute(
                "UPDATE orders SET status = ?, coupon_code = ?, placed_at = ? WHERE id = ?",
                (
                    order.status.value,
                    order.coupon.code if order.coupon else None,
                    to_iso(order.placed_at) if order.placed_at else None,
                    order.id,
                ),
            )
            if cursor.rowcount == 0:
                raise NotFoundError("order", order.id)
            self._write_lines(order.id, order.lines)
            if totals is not None:
                self.conn.execute(
                    "UPDATE orders SET subtotal = ?, discount_total = ?, tax_total = ?,"
                    " grand_total = ? WHERE id = ?",
                    (
                        str(totals.subtotal),
                        str(totals.discount),
                        str(totals.tax),
                        str(totals.total),
                        order.id,
                    ),
                )

    def get(self, order_id: int) -> Order:
        row = self.conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        if row is None:
            raise NotFoundError("order", order_id)
        return self._from_row(row)

    def stored_total(self, order_id: int) -> str | None:
        """The grand total frozen at checkout, or ``None`` for drafts."""
        row = self.conn.execute(
            "SELECT grand_total FROM orders WHERE id = ?", (order_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("order", order_id)
        return row["grand_total"]

    def count(self, status: OrderStatus | None = None) -> int:
        if status is None:
            return self.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        return self.conn.execute(
            "SELECT COUNT(*) FROM orders WHERE status = ?", (OrderStatus(status).value,)
        ).fetchone()[0]

    def list_summaries(
        self, *, status: OrderStatus | None = None, limit: int = 20, offset: int = 0
    ) -> list[OrderSummary]:
        """Newest orders first, ``limit`` at a time starting at ``offset``."""
        sql = "SELECT id, customer_id, status, placed_at, grand_total, currency FROM orders"
        params: list[object] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(OrderStatus(status).value)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        params += [limit, offset]
        return [
            OrderSummary(
                id=row["id"],
                customer_id=row["customer_id"],
                status=OrderStatus(row["status"]),
                placed_at=row["placed_at"],
                grand_total=row["grand_total"],
                currency=row["currency"],
            )
            for row in self.conn.execute(sql, params)
        ]
