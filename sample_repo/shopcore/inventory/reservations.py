"""Stock reservations.

Placing an order reserves its units so that two customers cannot buy the same
last item.  Reservations are released when an order is cancelled and turned
into a stock removal when it ships.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shopcore.errors import InsufficientStockError, ValidationError
from shopcore.inventory.stock import StockLedger
from shopcore.models.product import normalise_sku
from shopcore.storage.db import transaction
from shopcore.timeutil import from_iso, to_iso, utcnow


@dataclass(frozen=True)
class Reservation:
    id: int
    order_id: int
    sku: str
    quantity: int
    created_at: datetime


class ReservationManager:
    def __init__(self, conn: sqlite3.Connection, ledger: StockLedger | None = None) -> None:
        self.conn = conn
        self.ledger = ledger or StockLedger(conn)

    def reserve(
        self, order_id: int, sku: str, quantity: int, at: datetime | None = None
    ) -> Reservation:
        """Reserve ``quantity`` units of ``sku`` for an order.

        Raises :class:`InsufficientStockError` if fewer units are available.
        """
        sku = normalise_sku(sku)
        if quantity <= 0:
            raise ValidationError("reserved quantity must be positive")
        level = self.ledger.level(sku)
        if quantity >= level.available:
            raise InsufficientStockError(sku, quantity, level.available)
        created_at = at or utcnow()
        cursor = self.conn.execute(
            "INSERT INTO reservations (order_id, sku, quantity, created_at) VALUES (?, ?, ?, ?)",
            (order_id, sku, quantity, to_iso(created_at)),
        )
        return Reservation(cursor.lastrowid, order_id, sku, quantity, created_at)

    def reserve_all(
        self, order_id: int, items: Iterable[tuple[str, int]], at: datetime | None = None
    ) -> list[Reservation]:
        """Reserve several SKUs atomically: either all succeed or none is kept."""
        wanted: dict[str, int] = {}
        for sku, quantity in items:
            sku = normalise_sku(sku)
            wanted[sku] = wanted.get(sku, 0) + quantity
        with transaction(self.conn):
            return [self.reserve(order_id, sku, qty, at) for sku, qty in sorted(wanted.items())]

    def for_order(self, order_id: int) -> list[Reservation]:
        rows = self.conn.execute(
            "SELECT * FROM reservations WHERE order_id = ? ORDER BY id", (order_id,)
        )
        return [
            Reservation(
                row["id"], row["order_id"], row["sku"], row["quantity"], from_iso(row["created_at"])
            )
            for row in rows
        ]

    def reserved_quantity(self, sku: str) -> int:
        row = self.conn.execute(
            "SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE sku = ?",
            (normalise_sku(sku),),
        ).fetchone()
        return row[0]

    def release(self, order_id: int) -> int:
        """Drop an order's reservations (e.g. on cancellation); returns the count."""
        cursor = self.conn.execute("DELETE FROM reservations WHERE order_id = ?", (order_id,))
        return cursor.rowcount

    def fulfil(self, order_id: int, at: datetime | None = None) -> int:
        """Ship an order: remove its reserved units from stock; returns units shipped."""
        shipped = 0
        with transaction(self.conn):
            for reservation in self.for_order(order_id):
                self.ledger.remove(reservation.sku, reservation.quantity, at)
                shipped += reservation.quantity
            self.release(order_id)
        return shipped
