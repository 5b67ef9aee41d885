from datetime import datetime
from decimal import Decimal

import pytest
from shopcore.errors import InvalidOrderStateError, ValidationError
from shopcore.models import Customer, Order, OrderLine, OrderStatus, Product
from shopcore.pricing.tax import TaxCategory


def test_product_normalises_and_validates():
    product = Product(" tea-001 ", "  Assam   tea ", "6.9", "reduced")
    assert product.sku == "TEA-001"
    assert product.name == "Assam tea"
    assert product.unit_price == Decimal("6.90")
    assert product.tax_category is TaxCategory.REDUCED
    assert product.price_including_tax("DE") == Decimal("7.38")
    assert product.with_price(Decimal("7.10")).unit_price == Decimal("7.10")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sku": "tea"},
        {"name": "   "},
        {"unit_price": "-1"},
        {"unit_price": "1.005"},
        {"unit_price": "cheap"},
        {"tax_category": "luxury"},
    ],
)
def test_product_rejects_bad_data(kwargs):
    data = {"sku": "TEA-001", "name": "Tea", "unit_price": "1.00"} | kwargs
    with pytest.raises(ValidationError):
        Product(**data)


def test_customer_validation():
    customer = Customer(" Ada@Example.COM ", "Ada  Lovelace", "de")
    assert customer.email == "ada@example.com"
    assert customer.region == "DE"
    assert customer.display_name == "Ada Lovelace <ada@example.com>"
    with pytest.raises(ValidationError):
        Customer("not-an-email", "Ada", "DE")
    with pytest.raises(ValidationError):
        Customer("ada@example.com", "Ada", "Atlantis")
    with pytest.raises(ValueError):
        Customer("ada@example.com", "Ada", "DE", created_at=datetime(2024, 1, 1))


def test_order_line_validation():
    with pytest.raises(ValidationError):
        OrderLine("TEA-001", 0, Decimal("1.00"))
    with pytest.raises(ValidationError):
        OrderLine("TEA-001", 1000, Decimal("1.00"))
    with pytest.raises(ValidationError):
        OrderLine("TEA-001", 1, Decimal("1.00"), discount_percent=Decimal("150"))
    with pytest.raises(ValidationError):
        OrderLine("TEA-001", True, Decimal("1.00"))


def test_add_line_merges_same_product_and_discount():
    mug = Product("MUG-001", "Mug", Decimal("12.00"))
    order = Order(customer_id=1, region="DE")
    order.add_line(mug, 1)
    order.add_line(mug, 2)
    order.add_line(mug, 1, discount_percent=Decimal("10"))
    assert [(line.quantity, line.discount_percent) for line in order] == [(3, None), (1, Decimal("10"))]
    assert order.item_count == 4
    assert order.quantities_by_sku() == {"MUG-001": 4}
    order.remove_line("mug-001")
    assert order.lines == []
    with pytest.raises(ValidationError):
        order.remove_line("MUG-001")


def test_inactive_products_cannot_be_ordered():
    retired = Product("MUG-002", "Old mug", Decimal("5.00"), active=False)
    with pytest.raises(ValidationError):
        Order(customer_id=1, region="DE").add_line(retired, 1)


def test_status_transitions():
    order = Order(customer_id=1, region="DE")
    with pytest.raises(InvalidOrderStateError, match="empty"):
        order.transition_to(OrderStatus.PLACED)
    order.add_line(Product("MUG-001", "Mug", Decimal("12.00")), 1)
    order.transition_to(OrderStatus.PLACED)
    assert order.placed_at is not None
    assert order.is_open
    with pytest.raises(InvalidOrderStateError):
        order.add_line(Product("TEA-001", "Tea", Decimal("1.00")), 1)
    with pytest.raises(InvalidOrderStateError):
        order.transition_to(OrderStatus.SHIPPED)
    order.transition_to(OrderStatus.PAID)
    order.transition_to("shipped")
    assert order.status is OrderStatus.SHIPPED
    assert not order.is_open
    assert not order.can_transition_to(OrderStatus.CANCELLED)
