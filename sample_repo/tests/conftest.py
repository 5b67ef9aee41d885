"""Shared fixtures for shopcore's own test suite."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

SAMPLE_ROOT = Path(__file__).resolve().parents[1]
if str(SAMPLE_ROOT) not in sys.path:
    sys.path.insert(0, str(SAMPLE_ROOT))

from shopcore.models.customer import Customer  # noqa: E402
from shopcore.models.product import Product  # noqa: E402
from shopcore.pricing.tax import TaxCategory  # noqa: E402
from shopcore.services.order_service import OrderService  # noqa: E402
from shopcore.storage.db import connect, init_schema  # noqa: E402
from shopcore.storage.repositories import CustomerRepository, ProductRepository  # noqa: E402


class FakeClock:
    """A controllable clock for :class:`OrderService`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def conn():
    connection = connect(":memory:")
    init_schema(connection)
    yield connection
    connection.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2024, 3, 12, 10, 30, tzinfo=UTC))


@pytest.fixture
def catalog(conn):
    """Three products with stock, and one customer in Germany (id 1)."""
    products = ProductRepository(conn)
    products.add(Product("TEA-001", "Assam tea", Decimal("6.90"), TaxCategory.REDUCED))
    products.add(Product("MUG-001", "Stoneware mug", Decimal("12.00")))
    products.add(Product("POT-001", "Teapot", Decimal("40.00")))
    service = OrderService(conn)
    service.stock.set_on_hand("TEA-001", 50)
    service.stock.set_on_hand("MUG-001", 20)
    service.stock.set_on_hand("POT-001", 4)
    CustomerRepository(conn).add(Customer("ada@example.com", "Ada Lovelace", "DE"))
    return products


@pytest.fixture
def service(conn, catalog, clock) -> OrderService:
    return OrderService(conn, clock=clock)
