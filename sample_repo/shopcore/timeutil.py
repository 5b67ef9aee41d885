"""Time helpers.

shopcore stores every timestamp in UTC as an ISO-8601 string with an explicit
``+00:00`` offset, e.g. ``2024-03-31T18:30:00+00:00``.  Using a single fixed
format keeps string comparison in SQL equivalent to chronological comparison.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

__all__ = ["UTC", "ensure_utc", "from_iso", "parse_date", "to_iso", "utcnow"]


def utcnow() -> datetime:
    """Current time as an aware UTC datetime, truncated to whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def ensure_utc(moment: datetime) -> datetime:
    """Return ``moment`` converted to UTC; naive datetimes are rejected."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime not allowed: {moment.isoformat()}")
    return moment.astimezone(UTC)


def to_iso(moment: datetime) -> str:
    """Serialise an aware datetime in the canonical storage format."""
    return ensure_utc(moment).replace(microsecond=0).isoformat()


def from_iso(text: str) -> datetime:
    """Parse a timestamp produced by :func:`to_iso` (or any aware ISO string)."""
    return ensure_utc(datetime.fromisoformat(text))


def parse_date(text: str) -> date:
    """Parse a ``YYYY-MM-DD`` calendar date, with a readable error message."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"invalid date {text!r}, expected YYYY-MM-DD") from exc
