"""A contact list (CSV with a header) read one record at a time: numbers normalised to E.164 with `phonenumbers`,
time zones given or derived from the number, duplicates found, and every bad row kept with its line and reason,
so a list of any size streams through in constant memory (bar one set of the numbers seen).
"""

from __future__ import annotations

import csv
import functools
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import phonenumbers
from phonenumbers import PhoneMetadata, phonenumberutil
from phonenumbers import timezone as number_zones

from survey_bot.campaigns.settings import SettingError, check_locale

__all__ = ["EXPORT_COLUMNS", "Contact", "ContactReader", "Duplicate", "ListError", "Rejected", "decoded_lines",
           "number_kind", "parse_phone", "read_contacts"]

KNOWN: Final = ("phone", "timezone", "locale", "name")
# The campaign export's own columns come first; the list's columns follow and may not reuse these names.
EXPORT_COLUMNS: Final = ("contact_id", "phone", "timezone", "locale", "attempts", "last_attempt_at", "last_outcome",
                         "disposition", "disposition_code", "response_id")
_UNKNOWN_ZONE: Final = "Etc/Unknown"


class ListError(ValueError):
    """The list as a whole cannot be read (no header, no phone column, not UTF-8, broken quoting): no row is."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line, self.message = line, message


@dataclass(frozen=True)
class Contact:
    """One row, checked: the E.164 number, its zones (comma-separated), locale, name and the other columns."""

    line: int
    phone: str
    timezones: str
    locale: str | None
    name: str | None
    variables: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    """A row that is not imported, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """A row whose number an earlier row already has: merged into that row (its values kept)."""

    line: int
    phone: str
    first_line: int


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def decoded_lines(raw: Iterable[bytes]) -> Iterator[str]:
    """Text lines of a UTF-8 file (a BOM is dropped); ListError naming the first line that is not UTF-8."""
    for number, line in enumerate(raw, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ListError(number, f"not UTF-8 (byte {exc.start + 1} of the line): save the list as UTF-8") from None
        yield text.removeprefix("\ufeff") if number == 1 else text


class ContactReader:
    """Checks the records of one list against its header."""

    def __init__(self, header: list[str], *, default_region: str | None = None,
                 default_locale: str | None = None) -> None:
        names = [cell.strip() for cell in header]
        keys = [name.lower() if name.lower() in KNOWN else name for name in names]
        if not any(names):
            raise ListError(1, "the header is empty: the first line names the columns (at least `phone`)")
        problems = [f"column {i + 1} has no name" for i, name in enumerate(names) if not name]
        problems += [f"column {name!r} appears twice" for i, name in enumerate(keys) if name in keys[:i]]
        problems += [f"column {name!r} is a name the campaign export uses: rename it" for name in keys
                     if name in EXPORT_COLUMNS and name not in KNOWN]
        if "phone" not in keys:
            problems.append(f"no `phone` column (columns: {', '.join(names)})")
        if problems:
            raise ListError(1, "; ".join(problems))
        self.header = keys
        self.columns = [key for key in keys if key not in KNOWN]  # the list's own columns, in file order
        self.default_region, self.default_locale = default_region, default_locale
        self.seen: dict[str, int] = {}

    def read(self, record: list[str], line: int) -> Contact | Rejected | Duplicate:
        """One record (the cells of `line`) as a contact, a rejection or a duplicate of an earlier line."""
        if len(record) != len(self.header):
            return Rejected(line, f"{len(record)} cells where the header has {len(self.header)} columns")
        row = dict(zip(self.header, record, strict=True))
        parsed = parse_phone(row["phone"].strip(), self.default_region)
        if isinstance(parsed, str):
            return Rejected(line, parsed)
        e164, derived = parsed
        first = self.seen.get(e164)
        if first is not None:
            return Duplicate(line, e164, first)
        zones, problem = _zones_of(row.get("timezone", "").strip(), derived)
        if problem:
            return Rejected(line, problem)
        try:
            locale = check_locale(row.get("locale"), "locale") or self.default_locale
        except SettingError as exc:
            return Rejected(line, f"locale {exc.message}")
        self.seen[e164] = line
        return Contact(line, e164, zones, locale, (row.get("name") or "").strip() or None,
                       {key: row[key] for key in self.columns})


def parse_phone(text: str, region: str | None) -> tuple[str, tuple[str, ...]] | str:
    """(E.164, the zones the number may be in) or why it is not a number we may dial: validity and
    time_zones_for_number in one, finding the number's type once (the library would find it three times, which
    took most of an import's time: a +1 number is tried against every NANP region each time)."""
    problem = _shape_problem(text, region)
    if problem:
        return problem
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return f"phone {text!r} is not a phone number"
    kind = number_kind(number)  # UNKNOWN exactly when is_valid_number is False
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        return f"phone {text!r} is not a valid number for its country"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_number_type_geographical(kind, number.country_code or 0):
        return e164, tuple(number_zones.time_zones_for_geographical_number(number))
    return e164, _country_zones(number.country_code or 0)


def number_kind(number: phonenumbers.PhoneNumber) -> int:
    """phonenumbers.number_type in one pass: the library finds the region of a country code shared by several
    (every +1 and +44 number) by typing the number against each region's patterns, then types it again against the
    region found; here the first typing that finds the region is the answer (half an import's phone time). Leans
    on the library's `_number_type_helper` (tests/test_fast_paths.py pins it); without it, the public call."""
    helper = getattr(phonenumberutil, "_number_type_helper", None)
    regions = phonenumberutil.COUNTRY_CODE_TO_REGION_CODE.get(number.country_code or 0)
    if helper is None or not regions or len(regions) == 1:
        return int(phonenumbers.number_type(number))
    national = phonenumbers.national_significant_number(number)
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if _leading(metadata.leading_digits).match(national):
                return int(helper(national, metadata))
        elif (kind := int(helper(national, metadata))) != phonenumbers.PhoneNumberType.UNKNOWN:
            return kind
    return phonenumbers.PhoneNumberType.UNKNOWN


@functools.cache
def _leading(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _shape_problem(text: str, region: str | None) -> str | None:
    """Why `text` cannot be a dialable number before the library looks at it (None: it may be one)."""
    if not text:
        return "phone is empty"
    if sum(ch.isdigit() for ch in text) < 3 or any(ch.isalpha() for ch in text.replace("ext", "")):
        return f"phone {text!r} is not a phone number"
    if not text.startswith("+") and region is None:
        return (f"phone {text!r} has no country code: write it as +<country code><number> or give "
                "--default-region")
    return None


@functools.cache
def _country_zones(country_code: int) -> tuple[str, ...]:
    """The zones of a country calling code (what the library gives a mobile or other non-geographic number)."""
    country_level = getattr(number_zones, "_country_level_time_zones_for_number", None)
    probe = phonenumbers.PhoneNumber(country_code=country_code, national_number=0)
    if country_level is None:  # (a private helper of the library; its public twin checks validity first)
        return (_UNKNOWN_ZONE,)
    return tuple(country_level(probe))


def _zones_of(given: str, derived: tuple[str, ...]) -> tuple[str, str | None]:
    """(the contact's IANA zones, comma-separated; a problem or None): the `timezone` cell's zones (several may be
    given, separated by commas), else every zone the number may be in."""
    if given:
        zones = [zone.strip() for zone in given.split(",") if zone.strip()]
        unknown = [zone for zone in zones if zone not in _zones()]
        if unknown:
            return "", f"timezone {unknown[0]!r} is not an IANA time zone like America/New_York"
        return ",".join(dict.fromkeys(zones)), None
    known = [zone for zone in derived if zone != _UNKNOWN_ZONE]
    if not known:
        return "", "no time zone is known for this number: add a timezone column (IANA, e.g. Europe/Paris)"
    return ",".join(known), None


def read_contacts(lines: Iterable[str], *, default_region: str | None = None,
                  default_locale: str | None = None) -> tuple[ContactReader, Iterator[Contact | Rejected | Duplicate]]:
    """The list's reader (its columns known from the header) and its rows, read lazily."""
    records = csv.reader(iter(lines), strict=True)
    try:
        header = next(records)
    except StopIteration:
        raise ListError(1, "the file is empty: the first line names the columns (at least `phone`)") from None
    except csv.Error as exc:
        raise ListError(1, f"the header is not CSV ({exc})") from None
    reader = ContactReader(header, default_region=default_region, default_locale=default_locale)
    return reader, _rows(reader, records)


def _rows(reader: ContactReader, records: Any) -> Iterator[Contact | Rejected | Duplicate]:
    last = records.line_num
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ListError(records.line_num, f"not CSV ({exc})") from None
        line, last = last + 1, records.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # a blank line
        yield reader.read(record, line)
