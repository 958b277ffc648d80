"""When a contact may be called: inside the campaign's daily window, on an allowed day, in the contact's local
time, and, for a number that may be in several zones, in every one of them at once (the scheduler checks this
at dial time, so a window is never trusted from the time a contact was queued).

A window whose end is before its start runs past midnight (21:00-02:00): its day is the day it opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DAY_NAMES", "is_open", "next_opening", "zones_of"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LOOKAHEAD_DAYS = 8  # a week and a day: every allowed day comes round once


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zones_of(timezones: str) -> list[ZoneInfo]:
    """The zones of a contact's comma-separated `timezones` (unknown names are left out; none at all: UTC)."""
    found = [zone for name in timezones.split(",") if name.strip() and (zone := _zone(name.strip())) is not None]
    return found or [ZoneInfo("UTC")]


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _open_in(moment: datetime, zone: ZoneInfo, start: time, end: time, days: frozenset[str]) -> bool:
    local = moment.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start <= end:
        return DAY_NAMES[local.weekday()] in days and start <= clock < end
    if clock >= start:  # the evening part of a window past midnight: today's
        return DAY_NAMES[local.weekday()] in days
    return clock < end and DAY_NAMES[(local.weekday() - 1) % 7] in days  # the morning part: yesterday's


def _days(days: str) -> frozenset[str]:
    return frozenset(day.strip() for day in days.split(",") if day.strip())


def is_open(moment: datetime, zones: Sequence[ZoneInfo], window_start: str, window_end: str, days: str) -> bool:
    """Whether `moment` (aware) is inside the window on an allowed day in every one of `zones`."""
    start, end, allowed = _clock(window_start), _clock(window_end), _days(days)
    if start == end:
        return False
    return all(_open_in(moment, zone, start, end, allowed) for zone in zones)


def next_opening(moment: datetime, zones: Sequence[ZoneInfo], window_start: str, window_end: str,
                 days: str) -> datetime | None:
    """The first time at or after `moment` when the window is open in every zone, or None if it never is
    within a week (zones too far apart for one window, or no allowed day)."""
    if is_open(moment, zones, window_start, window_end, days):
        return moment
    start = _clock(window_start)
    candidates = []
    for zone in zones:  # an opening of the intersection is the opening of one zone's window
        local = moment.astimezone(zone)
        for offset in range(_LOOKAHEAD_DAYS):
            day = (local + timedelta(days=offset)).date()
            opening = datetime.combine(day, start, tzinfo=zone)
            if opening > moment:
                candidates.append(opening)
    for candidate in sorted(candidates):
        if is_open(candidate, zones, window_start, window_end, days):
            return candidate
    return None
