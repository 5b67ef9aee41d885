from datetime import date
from decimal import Decimal

import pytest
from shopcore.reports import (
    Page,
    default_report_period,
    low_stock_report,
    page_offset,
    render_sales_summary,
    sales_summary,
    top_products,
)
from shopcore.services.order_service import OrderItem


@pytest.fixture
def march_sales(service, clock):
    """Three orders on 2024-03-12 and 2024-03-13; one of them cancelled."""
    service.quick_order(1, [OrderItem("MUG-001", 2)])  # 28.56
    clock.advance(hours=3)
    service.quick_order(1, [OrderItem("TEA-001", 4), OrderItem("MUG-001", 1)])  # 29.53 + 14.28
    clock.advance(days=1)
    cancelled = service.quick_order(1, [OrderItem("POT-001", 1)])
    service.cancel(cancelled.id)
    service.quick_order(1, [OrderItem("POT-001", 1)])  # 47.60
    return service


def test_sales_summary(conn, march_sales):
    summary = sales_summary(conn, date(2024, 3, 1), date(2024, 3, 20))
    assert summary.order_count == 3
    assert summary.gross_revenue == Decimal("119.97")
    assert summary.tax_collected == Decimal("16.37")
    assert summary.net_revenue == Decimal("103.60")
    assert summary.average_order_value == Decimal("39.99")
    assert [(d.day, d.order_count) for d in summary.days] == [
        (date(2024, 3, 12), 2),
        (date(2024, 3, 13), 1),
    ]


def test_empty_period(conn, march_sales):
    summary = sales_summary(conn, date(2024, 4, 1), date(2024, 4, 30))
    assert summary.order_count == 0
    assert summary.average_order_value == Decimal("0.00")
    with pytest.raises(ValueError):
        sales_summary(conn, date(2024, 4, 30), date(2024, 4, 1))


def test_render_and_dict(conn, march_sales):
    summary = sales_summary(conn, date(2024, 3, 1), date(2024, 3, 20))
    text = render_sales_summary(summary)
    assert "Orders:          3" in text
    assert "Gross revenue:   119.97 EUR" in text
    assert "2024-03-13" in text
    assert summary.to_dict()["gross_revenue"] == "119.97"


def test_top_products(conn, march_sales):
    assert top_products(conn, date(2024, 3, 1), date(2024, 3, 20), limit=2) == [
        ("TEA-001", 4),
        ("MUG-001", 3),
    ]


def test_low_stock_report(conn, march_sales):
    assert [level.sku for level in low_stock_report(conn, threshold=3)] == ["POT-001"]


def test_pagination_helpers():
    assert page_offset(1, 20) == 0
    assert page_offset(3, 10) == 20
    with pytest.raises(ValueError):
        page_offset(0, 10)
    page = Page(items=[1, 2], number=1, per_page=2, total=5)
    assert page.page_count == 3
    assert page.has_next
    assert Page(items=[], number=1, per_page=10, total=0).page_count == 1


def test_default_report_period():
    assert default_report_period(date(2024, 3, 12)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert default_report_period(date(2024, 1, 1)) == (date(2023, 12, 1), date(2023, 12, 31))
