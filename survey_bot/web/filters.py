"""The dashboard's template filters: times in UTC, durations, shares, answers as people read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from survey_bot.utc import as_utc

__all__ = ["duration", "percent", "when"]


def when(value: Any, precise: bool = False) -> str:
    """A timestamp as "2026-11-23 21:40:05 UTC" (`precise`: with milliseconds); naive values are UTC."""
    moment = value
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if not isinstance(moment, datetime):
        return "—"
    moment = as_utc(moment)
    if precise:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    """Seconds as "4.2 s", "3 min 05 s" or "2 h 01 min"."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def percent(share: float | None) -> str:
    """A share as "67%" ("—" when undefined)."""
    return "—" if share is None else f"{share:.0%}"
