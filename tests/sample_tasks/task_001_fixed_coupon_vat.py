"""Task 001 - a fixed-amount coupon does not reduce the VAT.

Issue: ``sample_repo/ISSUES/001-fixed-amount-coupon-vat-too-high.md``.
This test FAILS on the unfixed sample repository and passes once the issue is
fixed.  It is deliberately not named ``test_*.py``: ``test_sample_tasks.py``
runs it explicitly (in a subprocess, against a copy of the sample).  To run it
by hand against any copy of the sample repository::

    SAMPLE_REPO_ROOT=/path/to/sample_repo python -m pytest tests/sample_tasks/task_001_fixed_coupon_vat.py
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
from shopcore.pricing.discounts import Coupon  # noqa: E402
from shopcore.pricing.tax import TaxCategory  # noqa: E402
from shopcore.services.order_service import OrderItem, OrderService  # noqa: E402
from shopcore.storage.db import connect, init_schema  # noqa: E402
from shopcore.storage.repositories import CustomerRepository, ProductRepository  # noqa: E402

assert Path(shopcore.__file__).resolve().is_relative_to(SAMPLE_ROOT), shopcore.__file__

TENOFF = Coupon("TENOFF", amount_off=Decimal("10.00"), min_order_total=Decimal("50.00"))


def test_fixed_coupon_is_deducted_before_vat():
    order = Order(
        customer_id=1, region="DE", lines=[OrderLine("POT-001", 1, Decimal("100.00"))], coupon=TENOFF
    )
    totals = compute_order_total(order)
    assert totals.discount == Decimal("10.00")
    assert totals.net == Decimal("90.00")
    assert totals.tax == Decimal("17.10")
    assert totals.total == Decimal("107.10")
    assert order.total == Decimal("107.10")


def test_fixed_coupon_with_mixed_vat_rates():
    # 60.00 at 19% and 40.00 at 7%: the 10.00 coupon covers 6.00 and 4.00 of them.
    order = Order(
        customer_id=1,
        region="DE",
        lines=[
            OrderLine("POT-001", 1, Decimal("60.00"), TaxCategory.STANDARD),
            OrderLine("TEA-001", 4, Decimal("10.00"), TaxCategory.REDUCED),
        ],
    )
    totals = compute_order_total(order, TENOFF)
    assert totals.net == Decimal("90.00")
    assert totals.tax == Decimal("12.78")  # 54.00 * 19% + 36.00 * 7%
    assert totals.total == Decimal("102.78")
    assert sum(line.net for line in totals.lines) == totals.net


def test_fixed_coupon_behaves_like_the_equivalent_percentage_coupon():
    lines = [OrderLine("POT-001", 2, Decimal("25.00")), OrderLine("MUG-001", 4, Decimal("12.50"))]
    order = Order(customer_id=1, region="NL", lines=lines)
    fixed = compute_order_total(order, TENOFF)
    percent = compute_order_total(
        order, Coupon("TENPCT", percent_off=Decimal("10"), min_order_total=Decimal("0"))
    )
    assert (fixed.net, fixed.tax, fixed.total) == (percent.net, percent.tax, percent.total)


def test_checkout_with_fixed_coupon():
    conn = connect()
    init_schema(conn)
    ProductRepository(conn).add(Product("POT-001", "Teapot", Decimal("100.00")))
    CustomerRepository(conn).add(Customer("ada@example.com", "Ada", "DE"))
    service = OrderService(conn, clock=lambda: datetime(2024, 4, 2, 12, 0, tzinfo=UTC))
    service.stock.set_on_hand("POT-001", 10)
    service.coupons.add(TENOFF)

    order = service.quick_order(1, [OrderItem("POT-001", 1)], coupon_code="TENOFF")

    assert service.orders.stored_total(order.id) == "107.10"
    assert order.totals.tax == Decimal("17.10")
