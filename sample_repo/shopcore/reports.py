"""Sales and stock reports.

Reports read the totals frozen on placed orders, so they never re-price old
orders.  Date ranges are calendar days in UTC and include both the first and
the last day: ``sales_summary(conn, date(2024, 3, 1), date(2024, 3, 31))``
covers all of March.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Generic, TypeVar

from shopcore.inventory.stock import StockLedger, StockLevel
from shopcore.models.order import SOLD_STATUSES
from shopcore.pricing.money import ZERO, format_money, sum_money, to_decimal
from shopcore.timeutil import UTC, to_iso

T = TypeVar("T")


@dataclass(frozen=True)
class DaySales:
    day: date
    order_count: int
    revenue: Decimal


@dataclass(frozen=True)
class SalesSummary:
    start: date
    end: date
    order_count: int = 0
    net_revenue: Decimal = ZERO
    tax_collected: Decimal = ZERO
    discounts_given: Decimal = ZERO
    gross_revenue: Decimal = ZERO
    days: tuple[DaySales, ...] = field(default_factory=tuple)

    @property
    def average_order_value(self) -> Decimal:
        if self.order_count == 0:
            return ZERO
        return (self.gross_revenue / self.order_count).quantize(Decimal("0.01"))

    def to_dict(self) -> dict[str, object]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "orders": self.order_count,
            "net_revenue": str(self.net_revenue),
            "tax_collected": str(self.tax_collected),
            "discounts_given": str(self.discounts_given),
            "gross_revenue": str(self.gross_revenue),
            "average_order_value": str(self.average_order_value),
            "days": [
                {"day": d.day.isoformat(), "orders": d.order_count, "revenue": str(d.revenue)}
                for d in self.days
            ],
        }


def _utc_bounds(start: date, end: date) -> tuple[str, str]:
    """Half-open ``[lower, upper)`` timestamp bounds covering ``start``..``end``."""
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    lower = datetime.combine(start, time.min, tzinfo=UTC)
    upper = datetime.combine(end, time.min, tzinfo=UTC)
    return to_iso(lower), to_iso(upper)


def _sold_orders(conn: sqlite3.Connection, start: date, end: date) -> list[sqlite3.Row]:
    lower, upper = _utc_bounds(start, end)
    placeholders = ", ".join("?" for _ in SOLD_STATUSES)
    return conn.execute(
        "SELECT id, placed_at, subtotal, discount_total, tax_total, grand_total FROM orders"
        f" WHERE status IN ({placeholders}) AND placed_at >= ? AND placed_at < ?"
        " ORDER BY placed_at",
        [status.value for status in SOLD_STATUSES] + [lower, upper],
    ).fetchall()


def sales_summary(conn: sqlite3.Connection, start: date, end: date) -> SalesSummary:
    """Totals of all sold (placed, paid or shipped) orders from ``start`` to ``end``."""
    rows = _sold_orders(conn, start, end)
    by_day: dict[date, list[Decimal]] = {}
    for row in rows:
        day = datetime.fromisoformat(row["placed_at"]).date()
        by_day.setdefault(day, []).append(to_decimal(row["grand_total"]))
    gross = sum_money(to_decimal(row["grand_total"]) for row in rows)
    tax = sum_money(to_decimal(row["tax_total"]) for row in rows)
    return SalesSummary(
        start=start,
        end=end,
        order_count=len(rows),
        net_revenue=gross - tax,
        tax_collected=tax,
        discounts_given=sum_money(to_decimal(row["discount_total"]) for row in rows),
        gross_revenue=gross,
        days=tuple(
            DaySales(day, len(totals), sum_money(totals)) for day, totals in sorted(by_day.items())
        ),
    )


def top_products(
    conn: sqlite3.Connection, start: date, end: date, limit: int = 5
) -> list[tuple[str, int]]:
    """Best-selling SKUs by units sold in the period."""
    lower, upper = _utc_bounds(start, end)
    placeholders = ", ".join("?" for _ in SOLD_STATUSES)
    rows = conn.execute(
        "SELECT l.sku, SUM(l.quantity) AS units FROM order_lines AS l"
        " JOIN orders AS o ON o.id = l.order_id"
        f" WHERE o.status IN ({placeholders}) AND o.placed_at >= ? AND o.placed_at < ?"
        " GROUP BY l.sku ORDER BY units DESC, l.sku LIMIT ?",
        [status.value for status in SOLD_STATUSES] + [lower, upper, limit],
    )
    return [(row["sku"], row["units"]) for row in rows]


def low_stock_report(conn: sqlite3.Connection, threshold: int = 5) -> list[StockLevel]:
    return StockLedger(conn).low_stock(threshold)


def render_sales_summary(summary: SalesSummary, currency: str = "EUR") -> str:
    """Plain-text report as printed by ``shopcore report sales``."""
    lines = [
        f"Sales {summary.start.isoformat()} .. {summary.end.isoformat()}",
        f"  Orders:          {summary.order_count}",
        f"  Net revenue:     {format_money(summary.net_revenue, currency)}",
        f"  VAT collected:   {format_money(summary.tax_collected, currency)}",
        f"  Discounts given: {format_money(summary.discounts_given, currency)}",
        f"  Gross revenue:   {format_money(summary.gross_revenue, currency)}",
        f"  Avg. order:      {format_money(summary.average_order_value, currency)}",
    ]
    if summary.days:
        lines.append("  By day:")
        for day in summary.days:
            lines.append(
                f"    {day.day.isoformat()}  {day.order_count:>4} orders"
                f"  {format_money(day.revenue, currency):>16}"
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int
    per_page: int
    total: int

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.number < self.page_count


def page_offset(number: int, per_page: int) -> int:
    """Row offset of page ``number`` (1-based)."""
    if number < 1 or per_page < 1:
        raise ValueError("page number and page size must be positive")
    return (number - 1) * per_page


def default_report_period(today: date) -> tuple[date, date]:
    """The previous full calendar month relative to ``today``."""
    first_of_this_month = today.replace(day=1)
    last_of_previous = first_of_this_month - timedelta(days=1)
    return last_of_previous.replace(day=1), last_of_previous
