"""Application services."""

from shopcore.services.order_service import OrderItem, OrderService

__all__ = ["OrderItem", "OrderService"]
