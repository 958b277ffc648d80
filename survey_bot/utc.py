"""Time in UTC, the one way: SQLite hands datetimes back without a zone, PostgreSQL with one; both are UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "iso_utc", "now"]


def now() -> datetime:
    """The current instant, zoned UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant, zoned UTC; a value without a zone is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (None stays None)."""
    return None if value is None else as_utc(value).isoformat()
