"""Task 003 - checkout crashes with a coupon that has no minimum order value.

Issue: ``sample_repo/ISSUES/003-coupon-without-minimum-crashes-checkout.md``.
Fails on the unfixed sample repository, passes once the issue is fixed.  Run
by ``test_sample_tasks.py``; by hand::

    SAMPLE_REPO_ROOT=/path/to/sample_repo python -m pytest tests/sample_tasks/task_003_coupon_without_minimum.py
"""

import io
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
from shopcore.cli import main  # noqa: E402
from shopcore.errors import CouponError  # noqa: E402
from shopcore.models import Customer, Product  # noqa: E402
from shopcore.pricing.discounts import Coupon  # noqa: E402
from shopcore.services.order_service import OrderItem, OrderService  # noqa: E402
from shopcore.storage.db import connect, init_schema  # noqa: E402
from shopcore.storage.repositories import CustomerRepository, ProductRepository  # noqa: E402

assert Path(shopcore.__file__).resolve().is_relative_to(SAMPLE_ROOT), shopcore.__file__

NOON = datetime(2024, 4, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def service():
    conn = connect()
    init_schema(conn)
    ProductRepository(conn).add(Product("POT-001", "Teapot", Decimal("40.00")))
    ProductRepository(conn).add(Product("MUG-001", "Mug", Decimal("12.00")))
    CustomerRepository(conn).add(Customer("ada@example.com", "Ada", "DE"))
    service = OrderService(conn, clock=lambda: NOON)
    service.stock.set_on_hand("POT-001", 10)
    service.stock.set_on_hand("MUG-001", 10)
    return service


def test_coupon_without_minimum_is_accepted(service):
    service.coupons.add(Coupon("WELCOME5", percent_off=Decimal("5")))
    order = service.quick_order(1, [OrderItem("POT-001", 1)], coupon_code="WELCOME5")
    # 40.00 - 5% = 38.00 net, 7.22 VAT
    assert order.total == Decimal("45.22")
    assert service.orders.stored_total(order.id) == "45.22"
    assert service.coupons.get("WELCOME5").times_used == 1


def test_coupon_without_minimum_applies_to_small_orders(service):
    service.coupons.add(Coupon("WELCOME5", percent_off=Decimal("5"), max_uses=100))
    order = service.quick_order(1, [OrderItem("MUG-001", 1)], coupon_code="WELCOME5")
    assert order.total == Decimal("13.57")  # 11.40 + 2.17 VAT


def test_check_applicable_without_minimum():
    Coupon("WELCOME5", percent_off=Decimal("5")).check_applicable(Decimal("0.50"), at=NOON)


def test_minimum_is_still_enforced_when_set(service):
    service.coupons.add(Coupon("BIG5", percent_off=Decimal("5"), min_order_total=Decimal("50")))
    with pytest.raises(CouponError, match="minimum order"):
        service.quick_order(1, [OrderItem("POT-001", 1)], coupon_code="BIG5")


def test_cli_order_with_coupon_without_minimum(tmp_path):
    db = str(tmp_path / "shop.db")

    def run(*args):
        out = io.StringIO()
        return main(["--db", db, *args], out=out), out.getvalue()

    assert run("init", "--demo")[0] == 0
    assert run("customer", "add", "ada@example.com", "Ada", "--region", "DE")[0] == 0
    assert run("coupon", "add", "WELCOME5", "--percent", "5")[0] == 0
    code, out = run("order", "place", "--customer", "1", "--item", "MUG-001:1", "--coupon", "WELCOME5")
    assert code == 0
    assert out.strip() == "placed order 1: total 13.57 EUR"
