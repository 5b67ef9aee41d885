"""Price calculation: line discounts, percentage coupons, VAT."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from shopcore.errors import CouponError, ValidationError
from shopcore.models.order import Order, OrderLine
from shopcore.pricing.calculator import compute_order_total
from shopcore.pricing.discounts import Coupon, line_discount_amount, parse_percent
from shopcore.pricing.tax import TaxCategory, compute_tax, gross_price, tax_rate_for

NOON = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)


def make_order(*lines, region="DE", coupon=None):
    return Order(customer_id=1, region=region, lines=list(lines), coupon=coupon)


def test_tax_rates():
    assert tax_rate_for("DE", TaxCategory.STANDARD) == Decimal("0.19")
    assert tax_rate_for("de", "reduced") == Decimal("0.07")
    assert tax_rate_for("FR", "exempt") == Decimal("0")
    with pytest.raises(ValidationError):
        tax_rate_for("XX", "standard")
    with pytest.raises(ValidationError):
        tax_rate_for("DE", "luxury")


def test_compute_tax_simple_amounts():
    assert compute_tax(Decimal("100.00"), Decimal("0.19")) == Decimal("19.00")
    assert compute_tax(Decimal("12.42"), Decimal("0.07")) == Decimal("0.87")
    assert compute_tax(Decimal("10.00"), Decimal("0")) == Decimal("0.00")
    assert compute_tax(Decimal("0.00"), Decimal("0.19")) == Decimal("0.00")


def test_gross_price():
    assert gross_price(Decimal("12.00"), Decimal("0.19")) == Decimal("14.28")


def test_empty_order_costs_nothing():
    totals = compute_order_total(make_order())
    assert totals.total == Decimal("0.00")
    assert totals.lines == ()


def test_single_line_with_vat():
    order = make_order(OrderLine("MUG-001", 2, Decimal("12.00")))
    totals = compute_order_total(order)
    assert totals.subtotal == Decimal("24.00")
    assert totals.tax == Decimal("4.56")
    assert totals.total == Decimal("28.56")
    assert order.total == totals.total


def test_null_line_discount_means_no_discount():
    line = OrderLine("MUG-001", 1, Decimal("12.00"), discount_percent=None)
    assert line_discount_amount(Decimal("12.00"), None) == Decimal("0.00")
    assert compute_order_total(make_order(line)).discount == Decimal("0.00")


def test_line_discount_is_applied_before_vat():
    order = make_order(OrderLine("MUG-001", 2, Decimal("12.00"), discount_percent=Decimal("10")))
    totals = compute_order_total(order)
    assert totals.discount == Decimal("2.40")
    assert totals.net == Decimal("21.60")
    assert totals.tax == Decimal("4.10")  # 21.60 * 19% = 4.104
    assert totals.total == Decimal("25.70")


def test_mixed_tax_categories():
    order = make_order(
        OrderLine("TEA-001", 2, Decimal("6.90"), TaxCategory.REDUCED),
        OrderLine("MUG-001", 1, Decimal("12.00"), TaxCategory.STANDARD),
        OrderLine("GIFT-025", 1, Decimal("25.00"), TaxCategory.EXEMPT),
    )
    totals = compute_order_total(order)
    assert [line.tax for line in totals.lines] == [Decimal("0.97"), Decimal("2.28"), Decimal("0.00")]
    assert totals.total == Decimal("54.05")


def test_region_changes_the_rate():
    line = OrderLine("MUG-001", 1, Decimal("10.00"))
    assert compute_order_total(make_order(line, region="NL")).tax == Decimal("2.10")
    assert compute_order_total(make_order(line, region="FR")).tax == Decimal("2.00")


def test_percentage_coupon_reduces_the_taxable_amount():
    coupon = Coupon("SPRING10", percent_off=Decimal("10"), min_order_total=Decimal("20"))
    order = make_order(
        OrderLine("TEA-001", 2, Decimal("6.90"), TaxCategory.REDUCED),
        OrderLine("MUG-001", 2, Decimal("12.00"), discount_percent=Decimal("10")),
        coupon=coupon,
    )
    totals = compute_order_total(order)
    assert totals.subtotal == Decimal("35.40")
    assert [line.coupon_discount for line in totals.lines] == [Decimal("1.38"), Decimal("2.16")]
    assert totals.discount == Decimal("5.94")
    assert totals.net == Decimal("31.86")
    assert totals.tax == Decimal("4.56")
    assert totals.total == Decimal("36.42")


def test_explicit_coupon_argument_overrides_order_coupon():
    order = make_order(OrderLine("MUG-001", 1, Decimal("20.00")))
    coupon = Coupon("HALF", percent_off=Decimal("50"), min_order_total=Decimal("0"))
    assert compute_order_total(order, coupon).net == Decimal("10.00")


def test_coupon_validation_rules():
    coupon = Coupon(
        "spring10",
        percent_off=Decimal("10"),
        min_order_total=Decimal("30"),
        valid_from=date(2024, 3, 1),
        valid_until=date(2024, 5, 31),
        max_uses=2,
        times_used=1,
    )
    assert coupon.code == "SPRING10"
    coupon.check_applicable(Decimal("30.00"), at=NOON)
    with pytest.raises(CouponError, match="minimum order"):
        coupon.check_applicable(Decimal("29.99"), at=NOON)
    with pytest.raises(CouponError, match="not valid"):
        coupon.check_applicable(Decimal("50"), at=datetime(2024, 6, 1, tzinfo=UTC))
    assert coupon.is_active_on(date(2024, 5, 31))
    used_up = Coupon("ONCE", percent_off=Decimal("5"), min_order_total=Decimal("1"), max_uses=1, times_used=1)
    with pytest.raises(CouponError, match="used up"):
        used_up.check_applicable(Decimal("50"), at=NOON)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"percent_off": Decimal("10"), "amount_off": Decimal("5")},
        {"percent_off": Decimal("0")},
        {"percent_off": Decimal("120")},
        {"amount_off": Decimal("-5")},
        {"percent_off": Decimal("5"), "max_uses": 0},
        {"percent_off": Decimal("5"), "valid_from": date(2024, 2, 1), "valid_until": date(2024, 1, 1)},
    ],
)
def test_invalid_coupons_are_rejected(kwargs):
    with pytest.raises(ValidationError):
        Coupon("BROKEN", **kwargs)


def test_coupon_describe_and_discount():
    coupon = Coupon("TENOFF", amount_off=Decimal("10"), min_order_total=Decimal("50"))
    assert coupon.describe() == "TENOFF: 10.00 off (min. order 50.00)"
    assert coupon.discount_for(Decimal("8.00")) == Decimal("8.00")
    pct = Coupon("PCT", percent_off=Decimal("12.5"), max_uses=3)
    assert pct.describe() == "PCT: 12.5% off (0/3 used)"
    assert pct.discount_for(Decimal("10.00")) == Decimal("1.25")


@pytest.mark.parametrize(("text", "expected"), [("15", Decimal(15)), ("7.5%", Decimal("7.5")), ("", None)])
def test_parse_percent(text, expected):
    assert parse_percent(text) == expected


def test_parse_percent_rejects_garbage():
    with pytest.raises(ValidationError):
        parse_percent("lots")
