"""The calling window in the contact's local time, as plain functions: open only inside it, on allowed days,
in every zone a number may be in; and when it next opens."""

from __future__ import annotations

from datetime import UTC, datetime

from survey_bot.campaigns.window import is_open, next_opening, zones_of

WEEKDAYS = "mon,tue,wed,thu,fri"
MON_SAT = "mon,tue,wed,thu,fri,sat"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_open_inside_the_window_in_local_time() -> None:
    new_york = zones_of("America/New_York")  # UTC-5 in January
    assert is_open(at("2027-01-05T14:00"), new_york, "09:00", "20:00", MON_SAT)  # Tue 09:00 local
    assert not is_open(at("2027-01-05T13:59"), new_york, "09:00", "20:00", MON_SAT)  # 08:59 local
    assert not is_open(at("2027-01-06T01:00"), new_york, "09:00", "20:00", MON_SAT)  # 20:00 local: closed
    assert not is_open(at("2027-01-10T15:00"), new_york, "09:00", "20:00", MON_SAT)  # Sunday


def test_every_zone_of_a_number_must_be_inside() -> None:
    both = zones_of("America/New_York,America/Los_Angeles")
    assert not is_open(at("2027-01-05T14:30"), both, "09:00", "20:00", MON_SAT)  # 06:30 in Los Angeles
    assert is_open(at("2027-01-05T17:00"), both, "09:00", "20:00", MON_SAT)
    assert next_opening(at("2027-01-05T14:30"), both, "09:00", "20:00", MON_SAT) == at("2027-01-05T17:00")


def test_next_opening_skips_days_not_allowed() -> None:
    paris = zones_of("Europe/Paris")  # UTC+1 in January
    friday_night = at("2027-01-08T20:00")  # 21:00 local, Friday
    assert next_opening(friday_night, paris, "09:00", "20:00", WEEKDAYS) == at("2027-01-11T08:00")  # Monday 09:00
    assert next_opening(friday_night, paris, "09:00", "20:00", "") is None


def test_a_window_past_midnight_belongs_to_the_day_it_opened() -> None:
    utc = zones_of("UTC")
    assert is_open(at("2027-01-08T23:00"), utc, "21:00", "02:00", "fri")
    assert is_open(at("2027-01-09T01:00"), utc, "21:00", "02:00", "fri")  # Saturday morning, Friday's window
    assert not is_open(at("2027-01-10T01:00"), utc, "21:00", "02:00", "fri")


def test_unknown_zones_fall_back_to_utc() -> None:
    assert [str(z) for z in zones_of("Not/AZone")] == ["UTC"]
