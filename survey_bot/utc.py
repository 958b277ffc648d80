"""Time in UTC, the one way: SQLite hands datetimes back without a zone, PostgreSQL with one; both are UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "iso_utc", "now", "typed_utc"]


def now() -> datetime:
    """The current instant, zoned UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant, zoned UTC; a value without a zone is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def typed_utc(value: datetime) -> datetime:
    """as_utc for a time someone typed (a filter): ValueError saying why, not OverflowError, when the instant
    falls outside years 1 to 9999 in UTC (9999-12-31T23:00-05:00 is in year 10000 there), which nothing can hold."""
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the years 1 to 9999 in UTC") from None


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (None stays None)."""
    return None if value is None else as_utc(value).isoformat()
