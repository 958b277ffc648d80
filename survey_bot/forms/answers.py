"""Answers against the form: dotted names from a nested result, values as stored, one field or a whole AI
result validated."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from survey_bot.forms.model import Field, Form
from survey_bot.forms.validation import nest, schema_error, validator_for
from survey_bot.vocabulary import AI

__all__ = ["flatten", "normalized", "validate_answers", "validate_field"]

_HOURS_MINUTES = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def validate_field(field: Field, value: Any) -> str | None:
    """Return why `value` is not a valid answer to `field` (formats checked), or None."""
    return schema_error(field.schema, value)


def normalized(field: Field, value: Any) -> Any:
    """The value as stored: a time of day said as `09:30` becomes `09:30:00` (local to the call: no offset is
    invented); every other value as given."""
    if field.schema.get("format") == "time" and isinstance(value, str) and _HOURS_MINUTES.fullmatch(value):
        return f"{value}:00"
    return value


def flatten(form: Form, nested: Mapping[str, Any]) -> dict[str, Any]:
    """Return {dotted leaf name: value} for the form's leaves present in `nested`."""
    flat: dict[str, Any] = {}
    for field in form.fields:
        node: Any = nested
        for key in field.path:
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            flat[field.name] = node
    return flat


def validate_answers(form: Form, nested: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a nested result against the whole form: (valid leaves by name, normalized; {name: error}).

    The error is "required" for a field required of this response (statically, or by a branch the valid
    answers make apply) that has no valid answer. A null the field does not allow counts as not answered
    (voice AIs send null for what they did not get).
    """
    nested = nested if isinstance(nested, Mapping) else {}  # call.ai_gather.ended may carry result: null
    flat = {
        name: normalized(form.field(name), value)
        for name, value in flatten(form, nested).items()
        if value is not None or validate_field(form.field(name), value) is None
    }
    errors = {name: error for name, value in flat.items()
              if (error := validate_field(form.field(name), value)) is not None}
    together = nest({name: value for name, value in flat.items() if name not in errors})
    for error in validator_for(form.document).iter_errors(together):  # rules across fields
        if error.validator == "required":
            continue  # decided below by the form's skip logic: plain evaluation holds an `if` on absent fields
        path = tuple(str(p) for p in error.absolute_path)
        leaf = next((f.name for f in form.fields if path[: len(f.path)] == f.path), None)
        if leaf is not None and leaf in flat:
            errors.setdefault(leaf, str(error.message))
    valid = {name: value for name, value in flat.items() if name not in errors}
    for name in sorted(form.relevance(valid, dict.fromkeys(valid, AI)).required - valid.keys()):
        errors.setdefault(name, "required")
    return valid, errors
