from datetime import date
from decimal import Decimal

import pytest
from shopcore.errors import (
    CouponError,
    InsufficientStockError,
    InvalidOrderStateError,
    NotFoundError,
    ValidationError,
)
from shopcore.models import OrderStatus
from shopcore.pricing.discounts import Coupon
from shopcore.services.order_service import OrderItem


def test_order_item_parsing():
    assert OrderItem.parse("TEA-001:2") == OrderItem("TEA-001", 2)
    assert OrderItem.parse("MUG-001:1:10%") == OrderItem("MUG-001", 1, Decimal("10"))
    for bad in ("TEA-001", "TEA-001:x", "A:1:2:3"):
        with pytest.raises(ValidationError):
            OrderItem.parse(bad)


def test_draft_workflow(service):
    order = service.create_draft(1)
    service.add_item(order.id, OrderItem("MUG-001", 1))
    service.add_item(order.id, OrderItem("TEA-001", 2))
    order = service.remove_item(order.id, "TEA-001")
    assert [line.sku for line in service.get_order(order.id).lines] == ["MUG-001"]
    with pytest.raises(NotFoundError):
        service.create_draft(99)


def test_place_order_freezes_totals_and_reserves_stock(service, clock):
    order = service.create_draft(1)
    service.add_item(order.id, OrderItem("MUG-001", 2))
    service.add_item(order.id, OrderItem("TEA-001", 3))
    totals = service.place_order(order.id)
    # 24.00 + 4.56 VAT, 20.70 + 1.45 VAT (1.449)
    assert totals.total == Decimal("50.71")
    placed = service.get_order(order.id)
    assert placed.status is OrderStatus.PLACED
    assert placed.placed_at == clock.now
    assert service.orders.stored_total(order.id) == "50.71"
    assert service.stock.level("MUG-001").reserved == 2
    with pytest.raises(InvalidOrderStateError):
        service.place_order(order.id)


def test_quick_order_with_percentage_coupon(service):
    service.coupons.add(Coupon("SPRING10", percent_off=Decimal("10"), min_order_total=Decimal("30")))
    order = service.quick_order(1, [OrderItem("POT-001", 1)], coupon_code="spring10")
    # 40.00 - 4.00 = 36.00 net, 6.84 VAT
    assert order.total == Decimal("42.84")
    assert service.coupons.get("SPRING10").times_used == 1


def test_coupon_below_minimum_is_rejected_and_nothing_is_kept(service):
    service.coupons.add(Coupon("BIG50", percent_off=Decimal("50"), min_order_total=Decimal("100")))
    with pytest.raises(CouponError):
        service.quick_order(1, [OrderItem("MUG-001", 1)], coupon_code="BIG50")
    assert service.orders.count() == 0
    assert service.stock.level("MUG-001").reserved == 0


def test_expired_coupon_is_rejected(service):
    service.coupons.add(
        Coupon("WINTER", percent_off=Decimal("5"), min_order_total=Decimal("0"), valid_until=date(2024, 2, 29))
    )
    with pytest.raises(CouponError, match="not valid on 2024-03-12"):
        service.quick_order(1, [OrderItem("MUG-001", 1)], coupon_code="WINTER")


def test_out_of_stock_order_fails(service):
    with pytest.raises(InsufficientStockError):
        service.quick_order(1, [OrderItem("POT-001", 5)])
    assert service.orders.count() == 0


def test_pay_ship_cancel(service, clock):
    order = service.quick_order(1, [OrderItem("POT-001", 2)])
    clock.advance(hours=2)
    assert service.mark_paid(order.id).status is OrderStatus.PAID
    with pytest.raises(InvalidOrderStateError):
        service.cancel(order.id)
    service.ship(order.id)
    level = service.stock.level("POT-001")
    assert (level.on_hand, level.reserved) == (2, 0)

    other = service.quick_order(1, [OrderItem("POT-001", 1)])
    assert service.stock.level("POT-001").available == 1
    assert service.cancel(other.id).status is OrderStatus.CANCELLED
    assert service.stock.level("POT-001").available == 2


def test_coupon_can_only_be_changed_on_drafts(service):
    service.coupons.add(Coupon("SPRING10", percent_off=Decimal("10"), min_order_total=Decimal("1")))
    order = service.create_draft(1)
    service.add_item(order.id, OrderItem("MUG-001", 1))
    assert service.apply_coupon(order.id, "SPRING10").coupon.code == "SPRING10"
    assert service.apply_coupon(order.id, None).coupon is None
    service.place_order(order.id)
    with pytest.raises(InvalidOrderStateError):
        service.apply_coupon(order.id, "SPRING10")


def test_retired_product_blocks_checkout(service, catalog):
    order = service.create_draft(1)
    service.add_item(order.id, OrderItem("MUG-001", 1))
    catalog.update(catalog.get("MUG-001").__class__("MUG-001", "Mug", Decimal("12.00"), active=False))
    with pytest.raises(ValidationError, match="no longer available"):
        service.place_order(order.id)
