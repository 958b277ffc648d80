"""Answers against the form: flatten and nest dotted names, validate one field or a whole AI result.

Validators are built once per schema (see validator_for): building one per partial answer cost more than
validating it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from survey_bot.forms.model import Field, Form

__all__ = ["flatten", "nest", "schema_error", "validate_answers", "validate_field", "validator_for"]


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


def validate_field(field: Field, value: Any) -> str | None:
    """Return why `value` is not a valid answer to `field` (formats checked), or None."""
    return schema_error(field.schema, value)


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


def validate_answers(form: Form, nested: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a nested result against the whole form: (valid leaves by name, {name: error or "required"}).

    A null the field does not allow counts as not answered (voice AIs send null for what they did not get).
    """
    nested = nested if isinstance(nested, Mapping) else {}  # call.ai_gather.ended may carry result: null
    flat = {
        name: value
        for name, value in flatten(form, nested).items()
        if value is not None or validate_field(form.field(name), value) is None
    }
    cleaned = _prune(nested, form, flat)
    validator = validator_for(form.document)
    errors: dict[str, str] = {}
    for error in validator.iter_errors(cleaned):
        path = tuple(str(p) for p in error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [str(n) for n in error.validator_value if n not in error.instance]
            for name in missing:
                for field in _under(form, (*path, name)):
                    errors.setdefault(field.name, "required")
            continue
        leaf = next((f.name for f in form.fields if path[: len(f.path)] == f.path), None)
        if leaf is not None and leaf in flat:
            errors.setdefault(leaf, str(error.message))
    for field in form.fields:
        if field.required and field.name not in flat:
            errors.setdefault(field.name, "required")
    return {n: v for n, v in flat.items() if n not in errors}, errors


def _under(form: Form, path: tuple[str, ...]) -> list[Field]:
    inside = [f for f in form.fields if f.path[: len(path)] == path]
    return [f for f in inside if f.required] or inside


def _prune(nested: Mapping[str, Any], form: Form, flat: Mapping[str, Any]) -> dict[str, Any]:
    """Copy `nested` without the leaves that `flat` dropped (nulls the field does not allow)."""
    cleaned: dict[str, Any] = copy.deepcopy(dict(nested))
    for field in form.fields:
        if field.name in flat:
            continue
        node: Any = cleaned
        for key in field.path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(field.path[-1], None)
    return cleaned
