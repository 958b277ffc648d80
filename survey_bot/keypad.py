"""Keypad fallback of one field: derive its mapping, say how to answer, and turn digits back into a value.

A field's keypad comes from its `x-dtmf` (false, `{choices}` or `{min_digits, max_digits, terminator}`)
or, where absent, from its type. Times typed on the keypad become `HH:MM:00Z`: the jsonschema format
checker (RFC 3339) insists on an offset and the keypad cannot know the caller's, so `Z` is nominal.
"""

from __future__ import annotations

import calendar
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from .errors import DigitsError

__all__ = [
    "Keypad", "derive_keypad", "instructions", "parse_keypad", "schema_error", "valid_digits", "validator_for",
]

Kind = Literal["menu", "boolean", "digits", "date", "time"]
Problems = list[tuple[str, str]]  # (pointer relative to the field's x-dtmf, message)
Fail = Callable[[str], DigitsError]

# `^[0-9]{10}$`, `^\d{4,6}$`, `^[0-9]+$`: anchored runs of digits whose lengths can be read off.
_DIGIT_PATTERN = re.compile(r"^\^(?:\[0-9\]|\\d)(?:\{(\d+)(,?)(\d*)\}|([+*]))?\$$")
_NUMBER_MAX_DIGITS = 15
_STRING_MAX_DIGITS = 32
_DECIMALS = 4  # the `*` and three decimals typed after a number's whole part


@dataclass(frozen=True)
class Keypad:
    """How a field is answered on the phone keypad."""

    kind: Kind
    choices: Mapping[str, Any]
    min_digits: int
    max_digits: int
    terminator: str


def types_of(schema: Mapping[str, Any]) -> set[str]:
    """Return the schema's JSON types without null (a nullable field is asked like its base type)."""
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else []
    return {t for t in names if isinstance(t, str) and t != "null"}


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _width(number: float) -> int:
    return len(str(int(abs(number))))


def _bound(schema: Mapping[str, Any], plain: str, exclusive: str) -> float | None:
    value = schema.get(plain, schema.get(exclusive))
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _low(schema: Mapping[str, Any]) -> float | None:
    return _bound(schema, "minimum", "exclusiveMinimum")


def _high(schema: Mapping[str, Any]) -> float | None:
    return _bound(schema, "maximum", "exclusiveMaximum")


def derive_keypad(schema: Mapping[str, Any]) -> tuple[Keypad | None, Problems]:
    """Return the field's keypad (None: no fallback) and every inconsistency of its x-dtmf."""
    dtmf = schema.get("x-dtmf")
    if dtmf is False:
        return None, []
    explicit: Mapping[str, Any] = dtmf if isinstance(dtmf, Mapping) else {}
    if types_of(schema) & {"array", "object"} and explicit:
        return None, [("", "arrays and objects have no keypad entry; use x-dtmf false")]
    if "choices" in explicit:
        return _explicit_menu(schema, explicit["choices"])
    derived = _derived(schema)
    if not explicit:
        return derived, []
    return _explicit_digits(schema, derived, explicit)


def _menu_values(schema: Mapping[str, Any]) -> list[Any] | None:
    if isinstance(schema.get("enum"), list):
        return [v for v in schema["enum"] if v is not None]  # null is "no answer", not a menu entry
    return [True, False] if types_of(schema) == {"boolean"} else None


def _derived(schema: Mapping[str, Any]) -> Keypad | None:
    types, values = types_of(schema), _menu_values(schema)
    if "enum" in schema:
        if values and len(values) <= 9:
            return Keypad("menu", {str(i): v for i, v in enumerate(values, 1)}, 1, 1, "")
        return None
    if types == {"boolean"}:
        return Keypad("boolean", {"1": True, "2": False}, 1, 1, "")
    if types and types <= {"integer", "number"}:
        low, high = _low(schema), _high(schema)
        if low is None or low < 0:
            return None
        width = _width(high) if high is not None else _NUMBER_MAX_DIGITS
        extra = 0 if "integer" in types else _DECIMALS
        return Keypad("digits", {}, min(_width(low), width), width + extra, "#")
    if types == {"string"}:
        return _derived_string(schema)
    return None


def _derived_string(schema: Mapping[str, Any]) -> Keypad | None:
    if schema.get("format") == "date":
        return Keypad("date", {}, 8, 8, "")
    if schema.get("format") == "time":
        return Keypad("time", {}, 4, 4, "")
    lengths = _pattern_lengths(schema)
    if lengths is None:
        return None
    return Keypad("digits", {}, lengths[0], lengths[1], "#")


def _pattern_lengths(schema: Mapping[str, Any]) -> tuple[int, int] | None:
    """Return (min, max) digit counts of a digits-only pattern, narrowed by minLength/maxLength."""
    match = _DIGIT_PATTERN.match(str(schema.get("pattern", "")))
    if match is None:
        return None
    exact, comma, upper, repeat = match.groups()
    low, high = (1, 1) if exact is None and repeat is None else (1 if repeat == "+" else 0, None)
    if exact is not None:
        low, high = int(exact), (int(upper) if upper else None) if comma else int(exact)
    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    if isinstance(min_length, int):
        low = max(low, min_length)
    if isinstance(max_length, int):
        high = max_length if high is None else min(high, max_length)
    low = max(low, 1)
    return low, max(low, high if high is not None else _STRING_MAX_DIGITS)


def _explicit_menu(schema: Mapping[str, Any], choices: Any) -> tuple[Keypad | None, Problems]:
    values = _menu_values(schema)
    if values is None:
        return None, [("/choices", "choices need an enum (or boolean) field")]
    if not isinstance(choices, Mapping):
        return None, []  # the vocabulary reports the shape
    problems: Problems = []
    seen: dict[str, str] = {}
    offered = {_canon(v) for v in values}
    for digit, value in choices.items():
        if _canon(value) not in offered:
            problems.append((f"/choices/{digit}", f"{value!r} is not one of the field's enum values"))
        elif _canon(value) in seen:
            problems.append((f"/choices/{digit}", f"{value!r} is already digit {seen[_canon(value)]}"))
        seen.setdefault(_canon(value), digit)
    problems += [("/choices", f"enum value {v!r} has no digit") for v in values if _canon(v) not in seen]
    kind: Kind = "boolean" if "enum" not in schema else "menu"
    usable = {d: v for d, v in choices.items() if re.fullmatch("[1-9]", d)}
    return (Keypad(kind, usable, 1, 1, "") if not problems else None), problems


def _explicit_digits(
    schema: Mapping[str, Any], derived: Keypad | None, explicit: Mapping[str, Any]
) -> tuple[Keypad | None, Problems]:
    types = types_of(schema)
    if _menu_values(schema) is not None:
        return None, [("", "an enum or boolean field is a menu: map digits with choices")]
    if not types & {"integer", "number", "string"}:
        return None, [("", "only integer, number and string fields take digit entry")]
    base = derived or Keypad("digits", {}, 1, _NUMBER_MAX_DIGITS if "string" not in types else 32, "#")
    low, high = explicit.get("min_digits", base.min_digits), explicit.get("max_digits", base.max_digits)
    terminator = explicit.get("terminator", base.terminator)
    if not (isinstance(low, int) and isinstance(high, int) and terminator in ("#", "*", "")):
        return None, []  # the vocabulary reports the shape
    problems = _length_problems(schema, base.kind, low, high)
    if terminator == "*" and types == {"number"}:
        problems.append(("/terminator", "* is the decimal point of number fields"))
    return (Keypad(base.kind, {}, low, high, terminator) if not problems else None), problems


def _length_problems(schema: Mapping[str, Any], kind: Kind, low: int, high: int) -> Problems:
    if low > high:
        return [("/min_digits", f"min_digits {low} is more than max_digits {high}")]
    if kind in ("date", "time"):
        need = 8 if kind == "date" else 4
        if (low, high) != (need, need):
            return [("/max_digits", f"a {kind} is typed as exactly {need} digits")]
        return []
    maximum = _high(schema)
    if maximum is not None and types_of(schema) & {"integer", "number"} and _width(maximum) > high:
        return [("/max_digits", f"max_digits {high} cannot hold the maximum {maximum}")]
    lengths = _pattern_lengths(schema)
    if lengths and (lengths[0] > high or lengths[1] < low):
        span = f"{lengths[0]}" if lengths[0] == lengths[1] else f"{lengths[0]} to {lengths[1]}"
        return [("/max_digits", f"{low} to {high} digits cannot match the pattern's {span} digits")]
    return []


def valid_digits(keypad: Keypad, schema: Mapping[str, Any]) -> str:
    """Return the keys Telnyx should accept for this field."""
    if keypad.choices:
        return "".join(sorted(keypad.choices))
    star = "*" if keypad.kind == "digits" and types_of(schema) == {"number"} else ""
    return "0123456789" + star + keypad.terminator


def _spoken(value: Any) -> str:
    return str(value).replace("_", " ").replace("-", " ")


def _span(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low} to {high}"


def instructions(keypad: Keypad, schema: Mapping[str, Any]) -> str:
    """Tell the caller which keys to press."""
    if keypad.kind == "boolean":
        yes_no = {d: "yes" if v else "no" for d, v in keypad.choices.items()}
        return " ".join(f"Press {d} for {yes_no[d]}." for d in sorted(yes_no))
    if keypad.kind == "menu":
        return " ".join(f"Press {d} for {_spoken(keypad.choices[d])}." for d in sorted(keypad.choices))
    if keypad.kind == "date":
        return "Enter the date as 8 digits, year, month, day: for example 2 0 2 4 0 3 1 5 for March 15, 2024."
    if keypad.kind == "time":
        return "Enter the time as 4 digits, 24-hour clock: for example 1 4 3 0 for 2:30 in the afternoon."
    end = {"#": ", then press pound.", "*": ", then press star.", "": "."}[keypad.terminator]
    types = types_of(schema)
    if types & {"integer", "number"}:
        low, high = _low(schema), _high(schema)
        span = f" from {_fmt(low)} to {_fmt(high)}" if low is not None and high is not None else ""
        text = "Enter a number" + span
        return text + (", using star as the decimal point" if types == {"number"} else "") + end
    return f"Enter {_span(keypad.min_digits, keypad.max_digits)} digits{end}"


_VALIDATORS: dict[int, tuple[Mapping[str, Any], Draft202012Validator]] = {}
_MAX_VALIDATORS = 4096


def schema_error(schema: Mapping[str, Any], value: Any) -> str | None:
    """Return why `value` fails `schema` (formats asserted), or None."""
    error = best_match(validator_for(schema).iter_errors(value))
    return None if error is None else str(error.message)


def validator_for(schema: Mapping[str, Any]) -> Draft202012Validator:
    """The validator of a field's schema, built once: building one per partial answer cost more than
    validating it. Keyed by identity (a form's schemas live as long as the form); the entry holds the schema,
    so its id cannot be reused while cached."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_VALIDATORS) >= _MAX_VALIDATORS:
        _VALIDATORS.clear()
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def parse_keypad(keypad: Keypad, schema: Mapping[str, Any], name: str, digits: str) -> Any:
    """Turn gathered digits (with or without the terminator) into a value valid for the field."""
    terminator = keypad.terminator or "#"  # Telnyx ends on # unless told otherwise
    keys = digits[: -len(terminator)] if digits.endswith(terminator) else digits

    def fail(reason: str) -> DigitsError:
        return DigitsError(name, digits, reason)

    if not keys:
        raise fail("no digits entered")
    if keypad.choices:
        if keys not in keypad.choices:
            raise fail(f"{keys} is not one of the menu choices {_choice_list(keypad.choices)}")
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
        raise fail("only the digits 0-9" + (" and one * as the decimal point" if decimal else "") + " count")
    if keypad.kind == "date":
        return _date(keys, fail)
    if keypad.kind == "time":
        return _time(keys, fail)
    if not keypad.min_digits <= len(keys) <= keypad.max_digits:
        raise fail(f"expected {_span(keypad.min_digits, keypad.max_digits)} digits")
    if not numeric:
        return keys
    number: int | float = float(keys.replace("*", ".")) if "*" in keys else int(keys)
    _check_range(schema, number, fail)
    return number


def _check_range(schema: Mapping[str, Any], number: float, fail: Fail) -> None:
    rules: tuple[tuple[str, Callable[[float, float], bool], str], ...] = (
        ("minimum", operator.lt, "less than the minimum"),
        ("exclusiveMinimum", operator.le, "not more than the exclusive minimum"),
        ("maximum", operator.gt, "more than the maximum"),
        ("exclusiveMaximum", operator.ge, "not less than the exclusive maximum"),
    )
    for keyword, broken, words in rules:
        bound = _bound(schema, keyword, keyword)
        if bound is not None and broken(number, bound):
            raise fail(f"{_fmt(number)} is {words} {_fmt(bound)}")


def _date(keys: str, fail: Fail) -> str:
    if len(keys) != 8:
        raise fail("expected 8 digits YYYYMMDD")
    year, month, day = int(keys[:4]), int(keys[4:6]), int(keys[6:])
    if year < 1:
        raise fail(f"{keys[:4]} is not a year")
    if not 1 <= month <= 12:
        raise fail(f"{keys[4:6]} is not a month (01-12)")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise fail(f"{keys[6:]} is not a day of {keys[:4]}-{keys[4:6]}")
    return f"{keys[:4]}-{keys[4:6]}-{keys[6:]}"


def _time(keys: str, fail: Fail) -> str:
    if len(keys) != 4:
        raise fail("expected 4 digits HHMM")
    if int(keys[:2]) > 23:
        raise fail(f"{keys[:2]} is not an hour (00-23)")
    if int(keys[2:]) > 59:
        raise fail(f"{keys[2:]} is not a minute (00-59)")
    return f"{keys[:2]}:{keys[2:]}:00Z"
