"""Forms: load and check `forms/<form_id>.json`, compile them to Telnyx gather arguments, read answers back.

A form is a JSON Schema draft 2020-12 object schema plus `x-voice`, `x-dtmf`, `x-numbers` (form level)
and `x-prompt`, `x-dtmf` (field level); `form_vocabulary.json` is the meta-schema editors can use.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import FormError, FormProblem
from .form_check import (
    DTMF_DEFAULTS,
    VOICE_DEFAULTS,
    Leaf,
    check_document,
    form_id_problem,
    humanize,
    inline,
    leaf_keypad,
    leaves,
    map_subschemas,
    prompt_of,
    read_json,
    speak_payload,
)
from .keypad import Keypad, parse_keypad, schema_error, valid_digits, validator_for

__all__ = ["Field", "Form", "Keypad", "ai_gather_arguments", "check_document", "check_paths", "flatten", "load_form",
           "load_forms", "nest", "parse_digits", "parse_form", "speak_gather_arguments", "validate_answers",
           "validate_field"]

AI_KEYS = ("greeting", "voice", "language", "gather_ended_speech", "user_response_timeout_ms", "assistant")
INVALID_PAYLOAD = "Sorry, that is not a valid answer."


@dataclass(frozen=True)
class Field:
    """One question: a leaf of the form schema, named with dots (`preferred_slot.date`)."""

    name: str
    path: tuple[str, ...]
    schema: Mapping[str, Any]
    required: bool
    title: str
    prompt: str
    keypad: Keypad | None


@dataclass(frozen=True)
class Form:
    """A checked form, ready to compile into a conversation."""

    form_id: str
    source: str
    document: Mapping[str, Any]
    version: str
    title: str
    fields: tuple[Field, ...]
    numbers: tuple[str, ...]
    voice: Mapping[str, Any]
    dtmf: Mapping[str, Any]

    def field(self, name: str) -> Field:
        """Return the field named `name` (dotted); KeyError if the form has none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)


# ---- loading ---------------------------------------------------------------------------------------------


def check_paths(paths: Iterable[Path]) -> list[FormProblem]:
    """Return every problem of the form files, including numbers claimed by two forms."""
    return _read_all(list(paths))[1]


def _read_all(paths: list[Path]) -> tuple[dict[Path, Any], list[FormProblem]]:
    documents: dict[Path, Any] = {}
    problems: list[FormProblem] = []
    owners: dict[str, str] = {}
    for path in paths:
        document, found = read_json(path)
        id_problem = form_id_problem(path.stem, str(path))
        found += [id_problem] if id_problem else []
        if document is not None:
            found += check_document(document, str(path))
            found += _claim_numbers(document, path, owners)
            documents[path] = document
        problems += found
    return documents, problems


def _claim_numbers(document: Any, path: Path, owners: dict[str, str]) -> list[FormProblem]:
    numbers = document.get("x-numbers") if isinstance(document, dict) else None
    problems = []
    for i, number in enumerate(numbers if isinstance(numbers, list) else []):
        owner = owners.setdefault(str(number), path.stem)
        if owner != path.stem:
            message = f"{number} already belongs to form {owner!r}"
            problems.append(FormProblem(str(path), f"/x-numbers/{i}", message))
    return problems


def parse_form(document: Mapping[str, Any], form_id: str, source: str = "<memory>") -> Form:
    """Check a form document and build its Form (raises FormError with every problem)."""
    problems = check_document(document, source)
    id_problem = form_id_problem(form_id, source)
    if problems or id_problem:
        raise FormError(([id_problem] if id_problem else []) + problems)
    document = json.loads(json.dumps(document))  # a plain copy the caller cannot change under us
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    title = str(document.get("title") or humanize((form_id,)))
    return Form(
        form_id=form_id,
        source=source,
        document=document,
        version=hashlib.sha256(canonical.encode()).hexdigest(),
        title=title,
        fields=tuple(_field(leaf) for leaf in leaves(document)),
        numbers=tuple(document.get("x-numbers", ())),
        voice={**VOICE_DEFAULTS, "greeting": _greeting(title), **document.get("x-voice", {})},
        dtmf={**DTMF_DEFAULTS, **document.get("x-dtmf", {})},
    )


def _field(leaf: Leaf) -> Field:
    title = str(leaf.schema.get("title") or humanize(leaf.path[-1:]))
    prompt = prompt_of(leaf.schema, leaf.path)
    return Field(".".join(leaf.path), leaf.path, leaf.schema, leaf.required, title, prompt, leaf_keypad(leaf)[0])


def _greeting(title: str) -> str:
    return f"Hello! I have a few quick questions for you: {title}."


def load_form(path: Path) -> Form:
    """Read, check and parse one form file (raises FormError)."""
    return _parse_all([path])[path.stem]


def load_forms(folder: Path) -> dict[str, Form]:
    """Load every `*.json` form in `folder` by form id (raises FormError with all problems of all files)."""
    if not folder.is_dir():
        raise FormError([FormProblem(str(folder), "", "the forms folder does not exist")])
    return _parse_all(sorted(folder.glob("*.json")))


def _parse_all(paths: list[Path]) -> dict[str, Form]:
    documents, problems = _read_all(paths)
    if problems:
        raise FormError(problems)
    return {path.stem: parse_form(document, path.stem, str(path)) for path, document in documents.items()}


# ---- compiling to Telnyx arguments ----------------------------------------------------------------------


def _strip(schema: Any, _pointer: str = "") -> Any:
    """Drop x- keys and $-keywords at schema positions (a property named `x-ray` stays)."""
    if not isinstance(schema, dict):
        return schema
    kept = {k: v for k, v in schema.items() if not k.startswith(("x-", "$"))}
    return map_subschemas(kept, _strip, _pointer)


def ai_gather_arguments(form: Form) -> dict[str, Any]:
    """Return keyword arguments for `calls.actions.gather_using_ai` (the caller adds ids and state)."""
    parameters = _strip(inline(form.document, copy.deepcopy(dict(form.document))))
    arguments: dict[str, Any] = {
        "parameters": parameters,
        "send_partial_results": True,
        "send_message_history_updates": True,
    }
    arguments.update({k: copy.deepcopy(form.voice[k]) for k in AI_KEYS if k in form.voice})
    return arguments


def speak_gather_arguments(form: Form, field: Field, *, intro: bool = False) -> dict[str, Any]:
    """Return keyword arguments for `calls.actions.gather_using_speak` asking one field on the keypad."""
    keypad = field.keypad
    if keypad is None:
        raise ValueError(f"field {field.name!r} has no keypad fallback")
    arguments: dict[str, Any] = {
        "payload": speak_payload(keypad, field.schema, field.prompt, form.dtmf["intro"] if intro else None),
        "voice": form.dtmf["voice"],
        "language": form.dtmf["language"],
        "valid_digits": valid_digits(keypad, field.schema),
        "minimum_digits": keypad.min_digits,
        "maximum_digits": keypad.max_digits,
        "maximum_tries": form.dtmf["maximum_tries"],
        "invalid_payload": INVALID_PAYLOAD,
        "timeout_millis": form.dtmf["timeout_millis"],
    }
    if keypad.terminator:
        arguments["terminating_digit"] = keypad.terminator
    if "service_level" in form.dtmf:
        arguments["service_level"] = form.dtmf["service_level"]
    return arguments


# ---- answers ---------------------------------------------------------------------------------------------


def parse_digits(field: Field, digits: str) -> Any:
    """Turn keypad digits into the field's typed, schema-valid value (raises DigitsError)."""
    if field.keypad is None:
        raise ValueError(f"field {field.name!r} has no keypad fallback")
    return parse_keypad(field.keypad, field.schema, field.name, digits)


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
