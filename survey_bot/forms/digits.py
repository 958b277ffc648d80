"""Keypad digits back into a field's typed value: menus, yes/no, numbers, digit strings, dates and times.

Times typed on the keypad become `HH:MM:00`, local to the call like a spoken time: the keypad cannot know the
caller's offset, and survey-bot never invents one.
"""

from __future__ import annotations

import calendar
import operator
from collections.abc import Callable, Mapping
from typing import Any

from survey_bot.errors import DigitsError
from survey_bot.forms.keypad import Keypad, bound, fmt_number, types_of
from survey_bot.forms.model import Field
from survey_bot.forms.phrases import span
from survey_bot.forms.validation import schema_error

__all__ = ["parse_digits", "parse_keypad"]

Fail = Callable[..., DigitsError]  # (reason kept, message id said to the caller, its values)


def parse_digits(field: Field, digits: str) -> Any:
    """Turn keypad digits into the field's typed, schema-valid value (raises DigitsError)."""
    if field.keypad is None:
        raise ValueError(f"field {field.name!r} has no keypad fallback")
    return parse_keypad(field.keypad, field.schema, field.name, digits)


def parse_keypad(keypad: Keypad, schema: Mapping[str, Any], name: str, digits: str) -> Any:
    """Turn gathered digits (with or without the terminator) into a value valid for the field."""
    terminator = keypad.terminator or "#"  # Telnyx ends on # unless told otherwise
    keys = digits[: -len(terminator)] if digits.endswith(terminator) else digits

    def fail(reason: str, message_id: str = "reason.does_not_fit", **values: Any) -> DigitsError:
        return DigitsError(name, digits, reason, (message_id, values))

    if not keys:
        raise fail("no digits entered", "reason.no_digits")
    if keypad.choices:
        if keys not in keypad.choices:
            raise fail(f"{keys} is not one of the menu choices {_choice_list(keypad.choices)}",
                       "reason.not_a_choice", keys=" ".join(keys))
        value = keypad.choices[keys]
    else:
        value = _typed(keypad, schema, keys, fail)
    problem = schema_error(schema, value)
    if problem is not None:
        raise fail(problem)
    return value


def _choice_list(choices: Mapping[str, Any]) -> str:
    digits = sorted(choices)
    if [int(d) for d in digits] == list(range(int(digits[0]), int(digits[-1]) + 1)) and len(digits) > 2:
        return f"{digits[0]}-{digits[-1]}"
    return ", ".join(digits)


def _typed(keypad: Keypad, schema: Mapping[str, Any], keys: str, fail: Fail) -> Any:
    numeric = keypad.kind == "digits" and bool(types_of(schema) & {"integer", "number"})
    decimal = numeric and types_of(schema) == {"number"}
    allowed = "0123456789*" if decimal else "0123456789"
    if any(k not in allowed for k in keys) or keys.count("*") > 1:
        raise fail("only the digits 0-9" + (" and one * as the decimal point" if decimal else "") + " count",
                   "reason.only_digits_decimal" if decimal else "reason.only_digits")
    if keypad.kind == "date":
        return _date(keys, fail)
    if keypad.kind == "time":
        return _time(keys, fail)
    if not keypad.min_digits <= len(keys) <= keypad.max_digits:
        low, high = keypad.min_digits, keypad.max_digits
        if low == high:
            raise fail(f"expected {span(low, high)} digits", "reason.digit_count", count=low)
        raise fail(f"expected {span(low, high)} digits", "reason.digit_count_range", low=low, high=high)
    if not numeric:
        return keys
    number: int | float = float(keys.replace("*", ".")) if "*" in keys else int(keys)
    _check_range(schema, number, fail)
    return number


def _check_range(schema: Mapping[str, Any], number: float, fail: Fail) -> None:
    rules: tuple[tuple[str, Callable[[float, float], bool], str, str], ...] = (
        ("minimum", operator.lt, "less than the minimum", "reason.below_minimum"),
        ("exclusiveMinimum", operator.le, "not more than the exclusive minimum", "reason.not_above"),
        ("maximum", operator.gt, "more than the maximum", "reason.above_maximum"),
        ("exclusiveMaximum", operator.ge, "not less than the exclusive maximum", "reason.not_below"),
    )
    for keyword, broken, words, message_id in rules:
        limit = bound(schema, keyword, keyword)
        if limit is not None and broken(number, limit):
            raise fail(f"{fmt_number(number)} is {words} {fmt_number(limit)}", message_id, number=number, limit=limit)


def _date(keys: str, fail: Fail) -> str:
    if len(keys) != 8:
        raise fail("expected 8 digits YYYYMMDD", "reason.not_a_date", keys=" ".join(keys))
    year, month, day = int(keys[:4]), int(keys[4:6]), int(keys[6:])
    if year < 1:
        raise fail(f"{keys[:4]} is not a year", "reason.not_a_date", keys=" ".join(keys))
    if not 1 <= month <= 12:
        raise fail(f"{keys[4:6]} is not a month (01-12)", "reason.not_a_date", keys=" ".join(keys))
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise fail(f"{keys[6:]} is not a day of {keys[:4]}-{keys[4:6]}", "reason.not_a_date", keys=" ".join(keys))
    return f"{keys[:4]}-{keys[4:6]}-{keys[6:]}"


def _time(keys: str, fail: Fail) -> str:
    if len(keys) != 4:
        raise fail("expected 4 digits HHMM", "reason.not_a_time", keys=" ".join(keys))
    if int(keys[:2]) > 23:
        raise fail(f"{keys[:2]} is not an hour (00-23)", "reason.not_a_time", keys=" ".join(keys))
    if int(keys[2:]) > 59:
        raise fail(f"{keys[2:]} is not a minute (00-59)", "reason.not_a_time", keys=" ".join(keys))
    return f"{keys[:2]}:{keys[2:]}:00"
