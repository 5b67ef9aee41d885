"""Task 005 - the sales report leaves out orders of the last day.

Issue: ``sample_repo/ISSUES/005-sales-report-misses-last-day.md``.
Fails on the unfixed sample repository, passes once the issue is fixed.  Run
by ``test_sample_tasks.py``; by hand::

    SAMPLE_REPO_ROOT=/path/to/sample_repo python -m pytest tests/sample_tasks/task_005_sales_report_last_day.py
"""

import io
import os
import sys
from datetime import UTC, date, datetime
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
from shopcore.models import Customer, Product  # noqa: E402
from shopcore.reports import sales_summary, top_products  # noqa: E402
from shopcore.services.order_service import OrderItem, OrderService  # noqa: E402
from shopcore.storage.db import open_database  # noqa: E402
from shopcore.storage.repositories import CustomerRepository, ProductRepository  # noqa: E402

assert Path(shopcore.__file__).resolve().is_relative_to(SAMPLE_ROOT), shopcore.__file__

PLACED_AT = [
    datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
    datetime(2024, 3, 1, 0, 5, tzinfo=UTC),
    datetime(2024, 3, 15, 12, 0, tzinfo=UTC),
    datetime(2024, 3, 31, 18, 30, tzinfo=UTC),
    datetime(2024, 3, 31, 23, 59, 59, tzinfo=UTC),
    datetime(2024, 4, 1, 0, 0, tzinfo=UTC),
]


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "shop.db"
    conn = open_database(path, create=True)
    ProductRepository(conn).add(Product("MUG-001", "Mug", Decimal("12.00")))
    ProductRepository(conn).add(Product("POT-001", "Teapot", Decimal("40.00")))
    CustomerRepository(conn).add(Customer("ada@example.com", "Ada", "DE"))
    clock_value = {"now": PLACED_AT[0]}
    service = OrderService(conn, clock=lambda: clock_value["now"])
    service.stock.set_on_hand("MUG-001", 100)
    service.stock.set_on_hand("POT-001", 100)
    for moment in PLACED_AT:
        clock_value["now"] = moment
        service.quick_order(1, [OrderItem("MUG-001", 1)])  # 14.28 each
    clock_value["now"] = datetime(2024, 3, 31, 20, 0, tzinfo=UTC)
    service.quick_order(1, [OrderItem("POT-001", 5)])  # 238.00
    conn.close()
    return path


@pytest.fixture
def conn(db_path):
    connection = open_database(db_path)
    yield connection
    connection.close()


def test_month_includes_its_last_day(conn):
    summary = sales_summary(conn, date(2024, 3, 1), date(2024, 3, 31))
    assert summary.order_count == 5
    assert summary.gross_revenue == Decimal("295.12")  # 4 * 14.28 + 238.00
    assert [(d.day, d.order_count) for d in summary.days] == [
        (date(2024, 3, 1), 1),
        (date(2024, 3, 15), 1),
        (date(2024, 3, 31), 3),
    ]


def test_single_day_report(conn):
    assert sales_summary(conn, date(2024, 3, 31), date(2024, 3, 31)).order_count == 3
    assert sales_summary(conn, date(2024, 3, 1), date(2024, 3, 1)).order_count == 1
    assert sales_summary(conn, date(2024, 4, 1), date(2024, 4, 1)).order_count == 1


def test_top_products_include_last_day(conn):
    assert top_products(conn, date(2024, 3, 1), date(2024, 3, 31)) == [("POT-001", 5), ("MUG-001", 4)]


def test_cli_sales_report_for_one_day(db_path):
    out = io.StringIO()
    code = main(["--db", str(db_path), "report", "sales", "--from", "2024-03-31", "--to", "2024-03-31"], out=out)
    assert code == 0
    assert "Orders:          3" in out.getvalue()
    assert "Gross revenue:   266.56 EUR" in out.getvalue()
