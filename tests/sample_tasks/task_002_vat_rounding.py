"""Task 002 - VAT is a cent short when it ends in exactly half a cent.

Issue: ``sample_repo/ISSUES/002-vat-one-cent-short.md``.
Fails on the unfixed sample repository, passes once the issue is fixed.  Run
by ``test_sample_tasks.py``; by hand::

    SAMPLE_REPO_ROOT=/path/to/sample_repo python -m pytest tests/sample_tasks/task_002_vat_rounding.py
"""

import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

SAMPLE_ROOT = Path(
    os.environ.get("SAMPLE_REPO_ROOT") or Path(__file__).resolve().parents[2] / "sample_repo"
).resolve()
if str(SAMPLE_ROOT) not in sys.path:
    sys.path.insert(0, str(SAMPLE_ROOT))

import shopcore  # noqa: E402
from shopcore.models import Customer, Order, OrderLine, Product  # noqa: E402
from shopcore.pricing.calculator import compute_order_total  # noqa: E402
from shopcore.pricing.tax import TaxCategory  # noqa: E402
from shopcore.services.order_service import OrderItem, OrderService  # noqa: E402
from shopcore.storage.db import connect, init_schema  # noqa: E402
from shopcore.storage.repositories import CustomerRepository, ProductRepository  # noqa: E402

assert Path(shopcore.__file__).resolve().is_relative_to(SAMPLE_ROOT), shopcore.__file__


def test_half_cent_vat_rounds_up():
    # 1.50 * 19% = 0.285 -> 0.29
    order = Order(customer_id=1, region="DE", lines=[OrderLine("CUP-001", 1, Decimal("1.50"))])
    totals = compute_order_total(order)
    assert totals.tax == Decimal("0.29")
    assert totals.total == Decimal("1.79")


def test_half_cent_vat_rounds_up_on_every_line():
    order = Order(
        customer_id=1,
        region="DE",
        lines=[
            OrderLine("CUP-001", 1, Decimal("1.50")),  # 0.285 -> 0.29
            OrderLine("CUP-002", 1, Decimal("3.50")),  # 0.665 -> 0.67
            OrderLine("TEA-001", 3, Decimal("0.50"), TaxCategory.REDUCED),  # 0.105 -> 0.11
        ],
    )
    totals = compute_order_total(order)
    assert [line.tax for line in totals.lines] == [Decimal("0.29"), Decimal("0.67"), Decimal("0.11")]
    assert totals.tax == Decimal("1.07")
    assert totals.total == Decimal("7.57")


def test_rounding_below_half_still_rounds_down():
    # guard: 1.40 * 19% = 0.266 -> 0.27 and 1.20 * 19% = 0.228 -> 0.23, 1.10 * 19% = 0.209 -> 0.21
    for price, tax in (("1.40", "0.27"), ("1.20", "0.23"), ("1.10", "0.21"), ("2.10", "0.40")):
        order = Order(customer_id=1, region="DE", lines=[OrderLine("CUP-001", 1, Decimal(price))])
        assert compute_order_total(order).tax == Decimal(tax), price


def test_checkout_stores_rounded_up_vat():
    conn = connect()
    init_schema(conn)
    ProductRepository(conn).add(Product("CUP-001", "Espresso cup", Decimal("1.50")))
    CustomerRepository(conn).add(Customer("ada@example.com", "Ada", "DE"))
    service = OrderService(conn, clock=lambda: datetime(2024, 4, 2, 12, 0, tzinfo=UTC))
    service.stock.set_on_hand("CUP-001", 100)

    order = service.quick_order(1, [OrderItem("CUP-001", 1)])

    assert service.orders.stored_total(order.id) == "1.79"
