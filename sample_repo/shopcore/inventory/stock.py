"""Stock levels.

``stock.on_hand`` counts the physical units in the warehouse.  Units promised
to placed-but-not-shipped orders are held in the ``reservations`` table; what
can still be sold is ``on_hand - reserved`` (see :class:`StockLevel`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from shopcore.errors import NotFoundError, ValidationError
from shopcore.models.product import normalise_sku
from shopcore.timeutil import to_iso, utcnow

_LEVEL_SQL = """
    SELECT s.sku, s.on_hand, COALESCE(SUM(r.quantity), 0) AS reserved
    FROM stock AS s
    LEFT JOIN reservations AS r ON r.sku = s.sku
"""


@dataclass(frozen=True)
class StockLevel:
    sku: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        """Units that can still be promised to new orders."""
        return self.on_hand - self.reserved

    def is_low(self, threshold: int) -> bool:
        return self.available <= threshold


class StockLedger:
    """Reads and changes ``stock.on_hand``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def set_on_hand(self, sku: str, quantity: int, at: datetime | None = None) -> None:
        """Set the counted quantity for ``sku`` (e.g. after a stock take)."""
        sku = normalise_sku(sku)
        if quantity < 0:
            raise ValidationError("stock cannot be negative")
        self.conn.execute(
            "INSERT INTO stock (sku, on_hand, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand,"
            " updated_at = excluded.updated_at",
            (sku, quantity, to_iso(at or utcnow())),
        )

    def receive(self, sku: str, quantity: int, at: datetime | None = None) -> int:
        """Book a delivery of ``quantity`` units; returns the new on-hand count."""
        if quantity <= 0:
            raise ValidationError("received quantity must be positive")
        current = self._on_hand(sku) if self._exists(sku) else 0
        self.set_on_hand(sku, current + quantity, at)
        return current + quantity

    def remove(self, sku: str, quantity: int, at: datetime | None = None) -> int:
        """Take ``quantity`` units out of the warehouse (shipment, breakage)."""
        current = self._on_hand(sku)
        if quantity > current:
            raise ValidationError(f"cannot remove {quantity} units of {sku}, only {current} on hand")
        self.set_on_hand(sku, current - quantity, at)
        return current - quantity

    def _exists(self, sku: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM stock WHERE sku = ?", (normalise_sku(sku),))
        return row.fetchone() is not None

    def _on_hand(self, sku: str) -> int:
        row = self.conn.execute(
            "SELECT on_hand FROM stock WHERE sku = ?", (normalise_sku(sku),)
        ).fetchone()
        if row is None:
            raise NotFoundError("stock record", sku)
        return row["on_hand"]

    def level(self, sku: str) -> StockLevel:
        """Current level of one SKU; unknown SKUs have no stock record."""
        row = self.conn.execute(
            _LEVEL_SQL + " WHERE s.sku = ? GROUP BY s.sku", (normalise_sku(sku),)
        ).fetchone()
        if row is None:
            raise NotFoundError("stock record", sku)
        return StockLevel(row["sku"], row["on_hand"], row["reserved"])

    def levels(self) -> list[StockLevel]:
        rows = self.conn.execute(_LEVEL_SQL + " GROUP BY s.sku ORDER BY s.sku")
        return [StockLevel(row["sku"], row["on_hand"], row["reserved"]) for row in rows]

    def low_stock(self, threshold: int = 5) -> list[StockLevel]:
        """SKUs whose available quantity is at or below ``threshold``."""
        return [level for level in self.levels() if level.is_low(threshold)]
