"""Choices and their spoken labels: an enum, or a `oneOf` of `{const, title}` (the JSON Schema idiom of a menu:
title said, const stored), with `x-labels` mapping values to the words said for them, plainly or per locale.

One place for the rules, so that the keypad menu, read-backs, the voice AI's schema, `forms check` and the
exports agree on which value is said how. Until forms have locales, the keypad's locale (`x-dtmf.language`)
picks a per-locale entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from survey_bot.forms.schema_walk import escape, leaves

__all__ = ["DEFAULT_LOCALE", "choice_schema", "choice_values", "field_labels", "form_locale", "is_locale", "label_key",
           "label_problems", "labels_of", "said", "spoken"]

DEFAULT_LOCALE = "en-US"  # the keypad's locale when x-dtmf.language does not say

# A BCP-47 tag as forms write them: en-US, es-419, zh-Hant-TW.
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")


def is_locale(tag: str) -> bool:
    """Whether a key names a locale (a BCP-47 tag as forms write them: en-US, es-419)."""
    return bool(_LOCALE.fullmatch(tag))


Problems = list[tuple[str, str]]  # (pointer relative to the x-labels key, message)


def choice_values(schema: Mapping[str, Any]) -> list[Any] | None:
    """The values a choice field stores, without null (null is "no answer", not a choice): its enum, or the
    consts of a oneOf whose every member is `{const, ...}`; None for any other field."""
    if isinstance(schema.get("enum"), list):
        return [v for v in schema["enum"] if v is not None]
    members = schema.get("oneOf")
    if isinstance(members, list) and members and all(isinstance(m, Mapping) and "const" in m for m in members):
        return [m["const"] for m in members if m["const"] is not None]
    return None


def choice_schema(schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The schema holding a field's choices: the field's own, or its items' for an array of choices."""
    if choice_values(schema) is not None:
        return schema
    items = schema.get("items")
    return items if isinstance(items, Mapping) and choice_values(items) is not None else None


def label_key(value: Any) -> str:
    """How a value is named as a key of x-labels (JSON object keys are strings: 3 is "3", true is "true")."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def spoken(value: Any) -> str:
    """A value said without a label: `very_satisfied` is "very satisfied"."""
    return str(value).replace("_", " ").replace("-", " ")


def _per_locale(labels: Mapping[str, Any]) -> bool:
    return any(isinstance(v, Mapping) for v in labels.values())


def labels_of(schema: Mapping[str, Any], locale: str) -> dict[str, str]:
    """A choice schema's labels by `label_key`: oneOf titles, overridden by x-labels (the `locale` entry of the
    per-locale shape, else the plain map)."""
    found: dict[str, str] = {}
    members = schema.get("oneOf") if choice_values(schema) is not None else None
    for member in members if isinstance(members, list) else []:
        if isinstance(member.get("title"), str) and member["title"].strip():
            found[label_key(member["const"])] = member["title"]
    declared = schema.get("x-labels")
    if isinstance(declared, Mapping):
        chosen = declared.get(locale) if _per_locale(declared) else declared
        if isinstance(chosen, Mapping):
            found.update({k: v for k, v in chosen.items() if isinstance(v, str) and v.strip()})
    return found


def said(value: Any, labels: Mapping[str, str]) -> str:
    """What is said (and exported with labels) for a value: its label, else the value humanised."""
    return labels.get(label_key(value)) or spoken(value)


def form_locale(document: Mapping[str, Any]) -> str:
    """The locale a form's keypad speaks, which picks its per-locale labels."""
    dtmf = document.get("x-dtmf")
    language = dtmf.get("language") if isinstance(dtmf, Mapping) else None
    return language if isinstance(language, str) else DEFAULT_LOCALE


def field_labels(document: Mapping[str, Any], locale: str | None = None) -> dict[str, dict[str, str]]:
    """Every choice field of a (checked) form by dotted name, arrays of choices included: its labels by
    `label_key` in `locale` (default: the keypad's; empty: its values are said humanised)."""
    locale = locale or form_locale(document)
    found = {}
    for leaf in leaves(document):
        schema = choice_schema(leaf.schema)
        if schema is not None:
            found[".".join(leaf.path)] = labels_of(schema, locale)
    return found


def label_problems(schema: Mapping[str, Any]) -> Problems:
    """What is wrong with a schema's x-labels (the vocabulary reports labels that are not non-empty strings)."""
    declared = schema.get("x-labels")
    if not isinstance(declared, Mapping):
        return []  # the vocabulary reports the shape
    values = choice_values(schema)
    if values is None:
        where = " (an array's go on its items)" if choice_schema(schema) is not None else ""
        return [("", f"x-labels label choices: only an enum or a oneOf of consts takes them{where}")]
    keys = {label_key(v) for v in values}
    if not _per_locale(declared):
        return _unknown(declared, keys, "")
    found: Problems = []
    for key, entry in declared.items():
        at = f"/{escape(key)}"
        if not isinstance(entry, Mapping):
            found.append((at, "x-labels mixes per-locale labels ({\"es-US\": {...}}) and value labels: use one "
                              "shape"))
        elif not is_locale(key):
            found.append((at, f"{key!r} is not a locale like es-US (per-locale labels are keyed by locale)"))
        else:
            found += _unknown(entry, keys, at)
    return found


def _unknown(labels: Mapping[str, Any], keys: set[str], at: str) -> Problems:
    return [(f"{at}/{escape(key)}", f"{key!r} is not one of the field's values ({', '.join(sorted(keys))})")
            for key in labels if key not in keys]
