"""JSON Schema validation with the formats checked, and dotted names back into nested objects: the helpers the
answers, the skip logic and the keypad share (no form model here, so every forms module may use them).

Validators are built once per schema (see validator_for): building one per partial answer cost more than
validating it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match

__all__ = ["FORMATS", "LOCAL_TIME", "nest", "schema_error", "validator_for"]

# A time of day as a caller says it: "09:30" or "09:30:00", local to the call; an RFC 3339 offset is allowed
# but never required (a caller does not speak one, and survey-bot never invents one).
LOCAL_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d(:([0-5]\d|60)(\.\d+)?)?(Z|z|[+-]([01]\d|2[0-3]):[0-5]\d)?")


def _is_time(value: object) -> bool:
    return not isinstance(value, str) or LOCAL_TIME.fullmatch(value) is not None


def _formats() -> FormatChecker:
    """jsonschema's own format checks, with `time` accepting a local time of day."""
    checker = FormatChecker()
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("time")(_is_time)
    return checker


FORMATS = _formats()


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
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Turn {dotted name: value} into nested dicts (ValueError when a name is both a leaf and a parent)."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, last = name.split(".")
        node = nested
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"{name!r} is inside a leaf answer")
        if isinstance(node.get(last), dict):
            raise ValueError(f"{name!r} is both an answer and a group of answers")
        node[last] = value
    return nested
