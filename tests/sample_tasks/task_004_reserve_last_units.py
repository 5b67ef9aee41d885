"""Task 004 - the last units in stock cannot be ordered.

Issue: ``sample_repo/ISSUES/004-cannot-order-last-units-in-stock.md``.
Fails on the unfixed sample repository, passes once the issue is fixed.  Run
by ``test_sample_tasks.py``; by hand::

    SAMPLE_REPO_ROOT=/path/to/sample_repo python -m pytest tests/sample_tasks/task_004_reserve_last_units.py
"""

import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

SAMPLE_ROOT = Path(
    os.environ.get("SAMPLE_REPO_ROOT") or Path(__file__).resolve().parents[2] / "sample_repo"
).resolve()
if str(SAMPLE_ROOT) not in sys.path:
    sys.path.insert(0, str(SAMPLE_ROOT))

import shopcore  # noqa: E402
from shopcore.errors import InsufficientStockError  # noqa: E402
from shopcore.models import Customer, Product  # noqa: E402
from shopcore.services.order_service import OrderItem, OrderService  # noqa: E402
from shopcore.storage.db import connect, init_schema  # noqa: E402
from shopcore.storage.repositories import CustomerRepository, ProductRepository  # noqa: E402

assert Path(shopcore.__file__).resolve().is_relative_to(SAMPLE_ROOT), shopcore.__file__


@pytest.fixture
def service():
    conn = connect()
    init_schema(conn)
    ProductRepository(conn).add(Product("POT-001", "Teapot", Decimal("40.00")))
    CustomerRepository(conn).add(Customer("ada@example.com", "Ada", "DE"))
    service = OrderService(conn, clock=lambda: datetime(2024, 4, 2, 12, 0, tzinfo=UTC))
    service.stock.set_on_hand("POT-001", 3)
    return service


def test_order_exactly_the_remaining_stock(service):
    order = service.quick_order(1, [OrderItem("POT-001", 3)])
    assert order.total == Decimal("142.80")
    level = service.stock.level("POT-001")
    assert (level.reserved, level.available) == (3, 0)


def test_last_unit_after_other_orders(service):
    service.quick_order(1, [OrderItem("POT-001", 2)])
    service.quick_order(1, [OrderItem("POT-001", 1)])
    assert service.stock.level("POT-001").available == 0
    with pytest.raises(InsufficientStockError) as info:
        service.quick_order(1, [OrderItem("POT-001", 1)])
    assert (info.value.requested, info.value.available) == (1, 0)


def test_reserve_exact_availability_directly(service):
    draft = service.create_draft(1)
    reservation = service.reservations.reserve(draft.id, "POT-001", 3)
    assert reservation.quantity == 3
    with pytest.raises(InsufficientStockError):
        service.reservations.reserve(draft.id, "POT-001", 1)


def test_more_than_available_is_still_refused(service):
    with pytest.raises(InsufficientStockError):
        service.quick_order(1, [OrderItem("POT-001", 4)])
    assert service.stock.level("POT-001").reserved == 0
