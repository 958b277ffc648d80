"""The keypad mapping of one field: derived from its `x-dtmf` (false, `{choices}` or `{min_digits, max_digits,
terminator}`) or, where absent, from its type; with every inconsistency between the two.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from survey_bot.forms.labels import choice_values
from survey_bot.forms.schema_walk import Leaf

__all__ = ["Keypad", "bound", "confirms", "derive_keypad", "fmt_number", "high_bound", "leaf_keypad", "low_bound",
           "types_of", "valid_digits"]

Kind = Literal["menu", "boolean", "digits", "date", "time"]


Problems = list[tuple[str, str]]  # (pointer relative to the field's x-dtmf, message)


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


def fmt_number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _width(number: float) -> int:
    return len(str(int(abs(number))))


def bound(schema: Mapping[str, Any], plain: str, exclusive: str) -> float | None:
    value = schema.get(plain, schema.get(exclusive))
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def low_bound(schema: Mapping[str, Any]) -> float | None:
    return bound(schema, "minimum", "exclusiveMinimum")


def high_bound(schema: Mapping[str, Any]) -> float | None:
    return bound(schema, "maximum", "exclusiveMaximum")


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


def leaf_keypad(leaf: Leaf) -> tuple[Keypad | None, Problems]:
    """Return the leaf's keypad and its mapping problems (an enclosing x-dtmf false turns it off)."""
    return (None, []) if leaf.keypad_off and "x-dtmf" not in leaf.schema else derive_keypad(leaf.schema)


def _menu_values(schema: Mapping[str, Any]) -> list[Any] | None:
    """The menu's values: the choices (an enum, a oneOf of consts), or yes and no."""
    values = choice_values(schema)
    if values is not None:
        return values
    return [True, False] if types_of(schema) == {"boolean"} else None


def _derived(schema: Mapping[str, Any]) -> Keypad | None:
    types, values = types_of(schema), _menu_values(schema)
    if "enum" in schema or choice_values(schema) is not None:
        if values and len(values) <= 9:
            return Keypad("menu", {str(i): v for i, v in enumerate(values, 1)}, 1, 1, "")
        return None
    if types == {"boolean"}:
        return Keypad("boolean", {"1": True, "2": False}, 1, 1, "")
    if types and types <= {"integer", "number"}:
        low, high = low_bound(schema), high_bound(schema)
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
        return None, [("/choices", "choices need an enum (or a oneOf of consts, or a boolean) field")]
    if not isinstance(choices, Mapping):
        return None, []  # the vocabulary reports the shape
    problems: Problems = []
    seen: dict[str, str] = {}
    offered = {_canon(v) for v in values}
    noun = "enum" if "enum" in schema else "oneOf const" if choice_values(schema) is not None else "boolean"
    for digit, value in choices.items():
        if _canon(value) not in offered:
            problems.append((f"/choices/{digit}", f"{value!r} is not one of the field's {noun} values"))
        elif _canon(value) in seen:
            problems.append((f"/choices/{digit}", f"{value!r} is already digit {seen[_canon(value)]}"))
        seen.setdefault(_canon(value), digit)
    problems += [("/choices", f"{noun} value {v!r} has no digit") for v in values if _canon(v) not in seen]
    kind: Kind = "menu" if choice_values(schema) is not None else "boolean"
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
    """Digit counts that cannot work, worded in the terms the user wrote (the pattern before derived bounds)."""
    lengths, pattern = _pattern_lengths(schema), schema.get("pattern")
    if lengths and kind == "digits":
        takes = f"exactly {lengths[0]}" if lengths[0] == lengths[1] else f"{lengths[0]} to {lengths[1]}"
        if lengths[0] > high:
            return [("/max_digits", f"max_digits {high} is too few: pattern {pattern} takes {takes} digits")]
        if lengths[1] < low:
            return [("/min_digits", f"min_digits {low} is too many: pattern {pattern} takes {takes} digits")]
    if low > high:
        return [("/min_digits", f"min_digits {low} is more than max_digits {high}")]
    if kind in ("date", "time"):
        need = 8 if kind == "date" else 4
        if (low, high) != (need, need):
            return [("/max_digits", f"a {kind} is typed as exactly {need} digits")]
        return []
    maximum = high_bound(schema)
    if maximum is not None and types_of(schema) & {"integer", "number"} and _width(maximum) > high:
        return [("/max_digits", f"max_digits {high} cannot hold the maximum {maximum}")]
    if not lengths and isinstance(pattern, str) and not _digits_can_match(pattern, low, high):
        return [("", f"no entry of {low} to {high} digits matches pattern {pattern}: the keypad types only digits "
                     "(use x-dtmf false, or a pattern of digits)")]
    return []


def _digits_can_match(pattern: str, low: int, high: int) -> bool:
    """Whether some string of `low`..`high` digits can match `pattern` (tried on a few telling digit strings;
    a pattern that does not compile is the vocabulary's to report)."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return True
    for length in range(low, min(high, 40) + 1):
        for digits in ("0" * length, "1" * length, "5" * length, "9" * length, ("1234567890" * 4)[:length],
                       "2" + "0" * (length - 1)):
            if compiled.search(digits):
                return True
    return False


def valid_digits(keypad: Keypad, schema: Mapping[str, Any]) -> str:
    """Return the keys Telnyx should accept for this field."""
    if keypad.choices:
        return "".join(sorted(keypad.choices))
    star = "*" if keypad.kind == "digits" and types_of(schema) == {"number"} else ""
    return "0123456789" + star + keypad.terminator


def confirms(schema: Mapping[str, Any], keypad: Keypad | None) -> bool:
    """Whether keypad digits are read back for a 1 or a 2: x-confirm, by default for dates and for digit
    strings of 6 or more digits (where one slip of a finger goes unnoticed)."""
    if keypad is None:
        return False
    if isinstance(schema.get("x-confirm"), bool):
        return bool(schema["x-confirm"])
    return keypad.kind == "date" or (keypad.kind == "digits" and keypad.min_digits >= 6
                                     and "string" in types_of(schema))
