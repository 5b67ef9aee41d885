"""Customers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from shopcore.errors import ValidationError
from shopcore.pricing.tax import normalise_region
from shopcore.timeutil import ensure_utc, utcnow

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


@dataclass
class Customer:
    """A customer.  ``region`` decides which VAT rates apply to their orders."""

    email: str
    name: str
    region: str
    id: int | None = None
    created_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        self.email = self.email.strip().lower()
        if not EMAIL_PATTERN.match(self.email):
            raise ValidationError(f"invalid e-mail address {self.email!r}")
        self.name = " ".join(self.name.split())
        if not self.name:
            raise ValidationError("customer name must not be empty")
        self.region = normalise_region(self.region)
        self.created_at = ensure_utc(self.created_at)

    @property
    def display_name(self) -> str:
        """``Name <email>`` as used in listings."""
        return f"{self.name} <{self.email}>"
