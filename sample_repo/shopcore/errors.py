"""Exception hierarchy shared by all shopcore layers.

Every error raised on purpose by shopcore derives from :class:`ShopError`, so
the CLI and the HTTP API can turn them into friendly messages while letting
genuine programming errors propagate.
"""

from __future__ import annotations


class ShopError(Exception):
    """Base class for all expected, user-facing errors."""


class ValidationError(ShopError, ValueError):
    """Input data is malformed or violates a business rule."""


class NotFoundError(ShopError, LookupError):
    """A requested entity (product, customer, order, coupon) does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class InsufficientStockError(ShopError):
    """A reservation asked for more units than are available."""

    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(
            f"insufficient stock for {sku}: requested {requested}, available {available}"
        )
        self.sku = sku
        self.requested = requested
        self.available = available


class CouponError(ShopError):
    """A coupon cannot be applied to an order."""


class InvalidOrderStateError(ShopError):
    """An operation is not allowed in the order's current status."""
