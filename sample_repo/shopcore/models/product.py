"""Product catalogue entries."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from shopcore.errors import ValidationError
from shopcore.pricing.money import CENT, to_decimal
from shopcore.pricing.tax import TaxCategory, gross_price, tax_rate_for

#: SKUs look like ``TEA-001`` or ``MUG-XL``: two upper-case alphanumeric parts.
SKU_PATTERN = re.compile(r"^[A-Z0-9]{2,10}-[A-Z0-9]{2,10}$")


def normalise_sku(sku: str) -> str:
    """Upper-case and validate a SKU."""
    code = sku.strip().upper()
    if not SKU_PATTERN.match(code):
        raise ValidationError(f"invalid SKU {sku!r} (expected e.g. TEA-001)")
    return code


@dataclass(frozen=True)
class Product:
    """A sellable item.  ``unit_price`` is the *net* price (without VAT)."""

    sku: str
    name: str
    unit_price: Decimal
    tax_category: TaxCategory = TaxCategory.STANDARD
    active: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "sku", normalise_sku(self.sku))
        name = " ".join(self.name.split())
        if not name:
            raise ValidationError("product name must not be empty")
        object.__setattr__(self, "name", name)
        try:
            price = to_decimal(self.unit_price)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"invalid price {self.unit_price!r}") from exc
        if price < 0:
            raise ValidationError(f"price must not be negative, got {price}")
        if price != price.quantize(CENT):
            raise ValidationError(f"price {price} has more than two decimal places")
        object.__setattr__(self, "unit_price", price.quantize(CENT))
        try:
            object.__setattr__(self, "tax_category", TaxCategory(self.tax_category))
        except ValueError as exc:
            raise ValidationError(f"unknown tax category {self.tax_category!r}") from exc

    def with_price(self, unit_price: Decimal) -> Product:
        """A copy of this product with a new net price."""
        return replace(self, unit_price=unit_price)

    def price_including_tax(self, region: str) -> Decimal:
        """Shelf price in ``region``: net price plus that region's VAT."""
        return gross_price(self.unit_price, tax_rate_for(region, self.tax_category))
