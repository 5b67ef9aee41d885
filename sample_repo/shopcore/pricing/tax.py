"""Value added tax (VAT) rates and tax computation.

Prices in shopcore are *net* prices; VAT is added on top per order line,
according to the customer's region and the product's tax category.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from shopcore.errors import ValidationError
from shopcore.pricing.money import CENT, ZERO, quantize_money


class TaxCategory(StrEnum):
    """How a product is taxed."""

    STANDARD = "standard"
    REDUCED = "reduced"  # food, books, ...
    EXEMPT = "exempt"  # gift cards, some services


#: VAT rates by region (ISO country code) and tax category.
TAX_RATES: dict[str, dict[TaxCategory, Decimal]] = {
    "DE": {
        TaxCategory.STANDARD: Decimal("0.19"),
        TaxCategory.REDUCED: Decimal("0.07"),
        TaxCategory.EXEMPT: Decimal("0"),
    },
    "FR": {
        TaxCategory.STANDARD: Decimal("0.20"),
        TaxCategory.REDUCED: Decimal("0.055"),
        TaxCategory.EXEMPT: Decimal("0"),
    },
    "NL": {
        TaxCategory.STANDARD: Decimal("0.21"),
        TaxCategory.REDUCED: Decimal("0.09"),
        TaxCategory.EXEMPT: Decimal("0"),
    },
    "AT": {
        TaxCategory.STANDARD: Decimal("0.20"),
        TaxCategory.REDUCED: Decimal("0.10"),
        TaxCategory.EXEMPT: Decimal("0"),
    },
    "IE": {
        TaxCategory.STANDARD: Decimal("0.23"),
        TaxCategory.REDUCED: Decimal("0.135"),
        TaxCategory.EXEMPT: Decimal("0"),
    },
}

SUPPORTED_REGIONS = frozenset(TAX_RATES)


def normalise_region(region: str) -> str:
    """Upper-case and validate a region code such as ``"de"`` -> ``"DE"``."""
    code = region.strip().upper()
    if code not in SUPPORTED_REGIONS:
        supported = ", ".join(sorted(SUPPORTED_REGIONS))
        raise ValidationError(f"unsupported region {region!r} (supported: {supported})")
    return code


def tax_rate_for(region: str, category: TaxCategory | str) -> Decimal:
    """The VAT rate (e.g. ``Decimal("0.19")``) for a region and tax category."""
    try:
        category = TaxCategory(category)
    except ValueError as exc:
        raise ValidationError(f"unknown tax category {category!r}") from exc
    return TAX_RATES[normalise_region(region)][category]


def compute_tax(net: Decimal, rate: Decimal) -> Decimal:
    """VAT due on a net amount, rounded to whole cents."""
    if net <= 0 or rate == 0:
        return ZERO
    return (net * rate).quantize(CENT)


def gross_price(net: Decimal, rate: Decimal) -> Decimal:
    """Net price plus VAT, as shown on price tags (``12.00`` at 19% -> ``14.28``)."""
    return quantize_money(net * (1 + rate))
