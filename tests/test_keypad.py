"""Keypad fallback: mappings derived from field types, what the caller hears, and digits parsed back."""

from __future__ import annotations

from typing import Any

import pytest

from survey_bot.errors import DigitsError
from survey_bot.forms.digits import parse_digits
from survey_bot.forms.keypad import Keypad, derive_keypad
from survey_bot.forms.load import parse_form
from survey_bot.forms.model import Form
from survey_bot.forms.validation import FORMATS
from survey_bot.telephony.arguments import speak_gather_arguments

KINDS: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Every keypad kind",
    "type": "object",
    "properties": {
        "color": {"type": "string", "enum": ["red", "green", "blue"]},
        "agree": {"type": "boolean", "title": "Agree"},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "rating": {"type": "number", "minimum": 0, "maximum": 5},
        "visit": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "time"},
        "pin": {"type": "string", "pattern": "^\\d{4,6}$"},
        "reason": {
            "type": "string",
            "enum": ["checkup", "follow-up"],
            "x-dtmf": {"choices": {"7": "follow-up", "9": "checkup"}},
        },
        "account": {"type": "string", "x-dtmf": {"min_digits": 3, "max_digits": 5, "terminator": "*"}},
        "year": {"type": "integer", "minimum": 1900, "maximum": 2100, "x-prompt": "Which year?"},
        "note": {"type": "string"},
        "quiet": {"type": "boolean", "x-dtmf": False},
    },
    "x-dtmf": {"decline_key": ""},  # account ends on *, the default decline key: no declining in this form
}


@pytest.fixture(scope="module")
def form() -> Form:
    return parse_form(KINDS, "kinds")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("color", Keypad("menu", {"1": "red", "2": "green", "3": "blue"}, 1, 1, "")),
        ("agree", Keypad("boolean", {"1": True, "2": False}, 1, 1, "")),
        ("count", Keypad("digits", {}, 1, 2, "#")),
        ("rating", Keypad("digits", {}, 1, 5, "#")),
        ("visit", Keypad("date", {}, 8, 8, "")),
        ("at", Keypad("time", {}, 4, 4, "")),
        ("pin", Keypad("digits", {}, 4, 6, "#")),
        ("reason", Keypad("menu", {"7": "follow-up", "9": "checkup"}, 1, 1, "")),
        ("account", Keypad("digits", {}, 3, 5, "*")),
        ("year", Keypad("digits", {}, 4, 4, "#")),
        ("note", None),
        ("quiet", None),
    ],
)
def test_keypad_derived_from_type(form: Form, name: str, expected: Keypad | None) -> None:
    assert form.field(name).keypad == expected


@pytest.mark.parametrize(
    ("pattern", "extra", "lengths"),
    [
        ("^[0-9]{10}$", {}, (10, 10)),
        ("^\\d{4,6}$", {}, (4, 6)),
        ("^[0-9]+$", {}, (1, 32)),
        ("^[0-9]+$", {"minLength": 5, "maxLength": 9}, (5, 9)),
        ("^\\d{3,}$", {"maxLength": 12}, (3, 12)),
        ("^[0-9]$", {}, (1, 1)),
    ],
)
def test_digit_patterns_give_lengths(pattern: str, extra: dict[str, Any], lengths: tuple[int, int]) -> None:
    keypad, problems = derive_keypad({"type": "string", "pattern": pattern, **extra})
    assert problems == []
    assert keypad is not None and (keypad.min_digits, keypad.max_digits, keypad.terminator) == (*lengths, "#")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^[0-9]{3}-[0-9]{4}$"},
        {"type": "string", "pattern": "[0-9]{10}"},  # unanchored: not digits-only
        {"type": "integer"},  # no minimum: could be negative
        {"type": "integer", "minimum": -5, "maximum": 5},
        {"type": "string", "enum": [str(i) for i in range(10)]},  # ten values do not fit 1-9
        {"type": "array", "items": {"type": "string"}},
        {"type": "string", "format": "email"},
    ],
)
def test_no_keypad_for_other_fields(schema: dict[str, Any]) -> None:
    assert derive_keypad(schema) == (None, [])


@pytest.mark.parametrize(
    ("name", "intro", "expected"),
    [
        ("color", False, {"payload": "Color. Press 1 for red. Press 2 for green. Press 3 for blue.",
                          "valid_digits": "123", "minimum_digits": 1, "maximum_digits": 1}),
        ("agree", False, {"payload": "Agree. Press 1 for yes. Press 2 for no.", "valid_digits": "12"}),
        ("count", True, {"payload": "I'll ask the remaining questions on your keypad. Count. "
                                    "Enter a number from 0 to 10, then press pound.",
                         "valid_digits": "0123456789#", "terminating_digit": "#", "maximum_digits": 2}),
        ("rating", False, {"payload": "Rating. Enter a number from 0 to 5, then press pound. Use the star key as "
                                      "the decimal point.", "valid_digits": "0123456789*#"}),
        ("visit", False, {"minimum_digits": 8, "maximum_digits": 8, "valid_digits": "0123456789"}),
        ("at", False, {"minimum_digits": 4, "maximum_digits": 4, "valid_digits": "0123456789"}),
        ("pin", False, {"payload": "Pin. Enter 4 to 6 digits, then press pound.", "minimum_digits": 4,
                        "maximum_digits": 6, "terminating_digit": "#"}),
        ("reason", False, {"payload": "Reason. Press 7 for follow up. Press 9 for checkup.", "valid_digits": "79"}),
        ("account", False, {"payload": "Account. Enter 3 to 5 digits, then press star.",
                            "terminating_digit": "*", "valid_digits": "0123456789*"}),
        ("year", False, {"payload": "Which year? Enter a number from 1900 to 2100, then press pound."}),
    ],
)
def test_speak_arguments_per_kind(form: Form, name: str, intro: bool, expected: dict[str, Any]) -> None:
    arguments = speak_gather_arguments(form, form.field(name), intro=intro)
    assert {k: arguments[k] for k in expected} == expected
    assert arguments["voice"] == "Telnyx.KokoroTTS.af" and arguments["language"] == "en-US"
    assert (arguments["maximum_tries"], arguments["timeout_millis"]) == (3, 10000)
    assert arguments["invalid_payload"] and len(arguments["payload"]) <= 3000
    assert ("terminating_digit" in arguments) == bool(form.field(name).keypad.terminator)  # type: ignore[union-attr]


def test_date_and_time_payloads_explain_the_digits(form: Form) -> None:
    assert "8 digits, year, month, day" in speak_gather_arguments(form, form.field("visit"))["payload"]
    assert "4 digits, 24-hour clock" in speak_gather_arguments(form, form.field("at"))["payload"]


def test_no_speak_arguments_without_keypad(form: Form) -> None:
    with pytest.raises(ValueError, match="no keypad"):
        speak_gather_arguments(form, form.field("note"))


@pytest.mark.parametrize(
    ("name", "digits", "value"),
    [
        ("color", "2", "green"),
        ("color", "3#", "blue"),
        ("agree", "1", True),
        ("agree", "2#", False),
        ("count", "7", 7),
        ("count", "10#", 10),
        ("count", "0#", 0),
        ("rating", "4*5#", 4.5),
        ("rating", "3", 3),
        ("visit", "20240229", "2024-02-29"),
        ("visit", "20240315#", "2024-03-15"),
        ("at", "1430", "14:30:00"),
        ("at", "0000#", "00:00:00"),
        ("pin", "0042", "0042"),
        ("pin", "123456#", "123456"),
        ("reason", "9", "checkup"),
        ("reason", "7#", "follow-up"),
        ("account", "12345*", "12345"),
        ("account", "123", "123"),
        ("year", "1999#", 1999),
    ],
)
def test_parse_digits(form: Form, name: str, digits: str, value: Any) -> None:
    parsed = parse_digits(form.field(name), digits)
    assert parsed == value and type(parsed) is type(value)


def test_parsed_time_is_local_and_passes_the_forms_format_checker(form: Form) -> None:
    """A keypad time is the caller's local time: no invented Z, and the form's own time format accepts it."""
    value = parse_digits(form.field("at"), "2359")
    assert value == "23:59:00" and FORMATS.conforms(value, "time")
    assert FORMATS.conforms("09:30", "time") and not FORMATS.conforms("9:30", "time")


@pytest.mark.parametrize(
    ("name", "digits", "reason"),
    [
        ("color", "4", "4 is not one of the menu choices 1-3"),
        ("color", "12", "12 is not one of the menu choices 1-3"),
        ("color", "#", "no digits entered"),
        ("agree", "3", "3 is not one of the menu choices 1, 2"),
        ("reason", "1", "1 is not one of the menu choices 7, 9"),
        ("count", "11#", "11 is more than the maximum 10"),
        ("count", "123", "expected 1 to 2 digits"),
        ("count", "1*", "only the digits 0-9 count"),
        ("rating", "5*5", "5.5 is more than the maximum 5"),
        ("rating", "1*2*3", "one * as the decimal point"),
        ("visit", "2023021", "expected 8 digits YYYYMMDD"),
        ("visit", "20230231", "31 is not a day of 2023-02"),
        ("visit", "20231301#", "13 is not a month"),
        ("visit", "00000101", "0000 is not a year"),
        ("at", "2460", "24 is not an hour"),
        ("at", "1260#", "60 is not a minute"),
        ("at", "930", "expected 4 digits HHMM"),
        ("pin", "123", "expected 4 to 6 digits"),
        ("pin", "1234567#", "expected 4 to 6 digits"),
        ("account", "12", "expected 3 to 5 digits"),
        ("year", "1899", "1899 is less than the minimum 1900"),
    ],
)
def test_parse_digits_rejects(form: Form, name: str, digits: str, reason: str) -> None:
    with pytest.raises(DigitsError) as caught:
        parse_digits(form.field(name), digits)
    assert reason in caught.value.reason
    assert (caught.value.field, caught.value.digits) == (name, digits)


def test_parse_digits_validates_the_whole_field_schema() -> None:
    form = parse_form(
        {"type": "object", "properties": {"even": {"type": "integer", "minimum": 0, "maximum": 99, "multipleOf": 2}}},
        "even",
    )
    assert parse_digits(form.field("even"), "42#") == 42
    with pytest.raises(DigitsError, match="multiple of 2"):
        parse_digits(form.field("even"), "43#")


def test_null_is_not_a_menu_entry() -> None:
    keypad, _ = derive_keypad({"type": ["string", "null"], "enum": ["a", "b", None]})
    assert keypad == Keypad("menu", {"1": "a", "2": "b"}, 1, 1, "")
