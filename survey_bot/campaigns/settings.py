"""A campaign's calling rules from what a user types (`--window 09:00-20:00`, `--days mon-fri`, `--retry-after
4h`), checked in one place so the CLI and the API accept and refuse the same values with the same words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import phonenumbers

from survey_bot.forms.model import Form

__all__ = ["DAYS", "CampaignSettings", "SettingError", "campaign_form_problem", "check_locale",
           "format_duration", "parse_days",
           "parse_duration", "parse_window"]

DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WINDOW_SHAPE: Final = "HH:MM-HH:MM, 24-hour, start before end (e.g. 09:00-20:00)"
DAYS_SHAPE: Final = "a range like mon-fri or mon-sun, or days separated by commas like mon,wed,fri"
DURATION_SHAPE: Final = "a number followed by s, m or h (e.g. 90s, 30m, 4h)"
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DURATION = re.compile(r"([0-9]{1,7})([smh])")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600}
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


class SettingError(ValueError):
    """A campaign setting that cannot be used: `option` names it (as the CLI spells it, without `--`)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"--{option}: {message}")
        self.option, self.message = option, message


def parse_window(text: str) -> tuple[str, str]:
    """`09:00-20:00` -> ("09:00", "20:00"): the daily calling window in the contact's local time."""
    start, dash, end = text.strip().partition("-")
    if not dash or not _TIME.fullmatch(start.strip()) or not _TIME.fullmatch(end.strip()):
        raise SettingError("window", f"{text!r} is not {WINDOW_SHAPE}")
    start, end = start.strip(), end.strip()
    if start >= end:
        raise SettingError("window", f"{text!r} ends before it starts: give {WINDOW_SHAPE}")
    return start, end


def parse_days(text: str) -> str:
    """`mon-fri` -> "mon,tue,wed,thu,fri"; `fri,mon` -> "mon,fri" (always in week order, each day once)."""
    chosen: set[str] = set()
    for part in text.strip().lower().split(","):
        first, dash, last = part.strip().partition("-")
        for day in (first, last) if dash else (first,):
            if day not in DAYS:
                raise SettingError("days", f"{text!r}: {day or 'an empty day'!r} is not a day: give {DAYS_SHAPE}")
        if not dash:
            chosen.add(first)
            continue
        start, end = DAYS.index(first), DAYS.index(last)
        if start > end:
            raise SettingError("days", f"{text!r}: {part.strip()} runs backwards: give {DAYS_SHAPE}")
        chosen.update(DAYS[start:end + 1])
    return ",".join(day for day in DAYS if day in chosen)


def parse_duration(text: str, option: str = "retry-after") -> int:
    """`90s` -> 90, `30m` -> 1800, `4h` -> 14400 (seconds; more than zero)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise SettingError(option, f"{text!r} is not {DURATION_SHAPE}, more than zero")
    return int(match[1]) * _UNIT_SECONDS[match[2]]


def format_duration(seconds: int) -> str:
    """The shortest way to write `seconds` as `parse_duration` reads it back (14400 -> "4h")."""
    for unit in ("h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def check_locale(text: str | None, option: str = "locale") -> str | None:
    """A BCP 47 tag as forms use it (`en-US`, `es`), or None for an empty value."""
    if text is None or not text.strip():
        return None
    if not _LOCALE.fullmatch(text.strip()):
        raise SettingError(option, f"{text!r} is not a language tag like en-US or es")
    return text.strip().replace("_", "-")


@dataclass(frozen=True)
class CampaignSettings:
    """A campaign's rules, checked; the defaults are the issue's (window 09:00-20:00, mon-sat, 3 attempts, retry
    after 4h, 10 calls at once, 1 dial per second, AMD on, no voicemail message, no quota)."""

    window_start: str = "09:00"
    window_end: str = "20:00"
    days: str = "mon,tue,wed,thu,fri,sat"
    max_attempts: int = 3
    retry_after_seconds: int = 4 * 3600
    concurrency: int = 10
    rate: float = 1.0
    amd: bool = True
    voicemail: str | None = None
    quota: int | None = None
    locale: str | None = None
    default_region: str | None = None

    @classmethod
    def from_text(cls, *, window: str | None = None, days: str | None = None, max_attempts: int | None = None,
                  retry_after: str | None = None, concurrency: int | None = None, rate: float | None = None,
                  amd: bool | None = None, voicemail: str | None = None, quota: int | None = None,
                  locale: str | None = None, default_region: str | None = None) -> CampaignSettings:
        """Settings from the options a user gave (None: the default); SettingError names the first bad one."""
        base = cls()
        start, end = parse_window(window) if window is not None else (base.window_start, base.window_end)
        if max_attempts is not None and not 1 <= max_attempts <= 100:
            raise SettingError("max-attempts", f"{max_attempts}: give a number from 1 to 100")
        if concurrency is not None and not 1 <= concurrency <= 10_000:
            raise SettingError("concurrency", f"{concurrency}: give a number from 1 to 10000")
        if rate is not None and not 0 < rate <= 1000:  # (NaN fails this too)
            raise SettingError("rate", f"{rate}: give calls per second, more than 0 and at most 1000")
        if quota is not None and quota < 1:
            raise SettingError("quota", f"{quota}: give a number of completed responses, 1 or more")
        if voicemail is not None and not voicemail.strip():
            raise SettingError("voicemail", "the message is empty: give the words to leave, or leave it out")
        if voicemail is not None and amd is False:
            raise SettingError("voicemail", "a voicemail message needs answering-machine detection: drop --no-amd")
        region = default_region.strip().upper() if default_region else None
        if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
            raise SettingError("default-region", f"{default_region!r} is not a two-letter region code like US or GB")
        return cls(
            window_start=start, window_end=end, days=parse_days(days) if days is not None else base.days,
            max_attempts=max_attempts if max_attempts is not None else base.max_attempts,
            retry_after_seconds=parse_duration(retry_after) if retry_after is not None else base.retry_after_seconds,
            concurrency=concurrency if concurrency is not None else base.concurrency,
            rate=float(rate) if rate is not None else base.rate, amd=base.amd if amd is None else amd,
            voicemail=voicemail.strip() if voicemail is not None else None, quota=quota,
            locale=check_locale(locale), default_region=region)


def campaign_form_problem(form: Form) -> str | None:
    """Why `form` may not run a campaign (None: it may): a campaign's calls must say who is calling and why."""
    if not form.disclosure:
        return (f"form {form.form_id!r} has no x-disclosure: a campaign's calls must say who is calling and why "
                f"(add \"x-disclosure\" to the form)")
    return None
