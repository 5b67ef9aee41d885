"""Pricing: money helpers, VAT, discounts and the order price calculation."""

from shopcore.pricing.calculator import LineTotals, OrderTotals, compute_order_total
from shopcore.pricing.discounts import Coupon
from shopcore.pricing.money import format_money, quantize_money, to_decimal
from shopcore.pricing.tax import TaxCategory, compute_tax, tax_rate_for

__all__ = [
    "Coupon",
    "LineTotals",
    "OrderTotals",
    "TaxCategory",
    "compute_order_total",
    "compute_tax",
    "format_money",
    "quantize_money",
    "tax_rate_for",
    "to_decimal",
]
