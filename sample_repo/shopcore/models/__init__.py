"""Domain models: products, customers, orders."""

from shopcore.models.customer import Customer
from shopcore.models.order import Order, OrderLine, OrderStatus
from shopcore.models.product import Product

__all__ = ["Customer", "Order", "OrderLine", "OrderStatus", "Product"]
