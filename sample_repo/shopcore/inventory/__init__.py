"""Inventory: stock levels and reservations."""

from shopcore.inventory.reservations import Reservation, ReservationManager
from shopcore.inventory.stock import StockLedger, StockLevel

__all__ = ["Reservation", "ReservationManager", "StockLedger", "StockLevel"]
