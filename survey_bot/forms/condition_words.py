"""A form's skip logic in words, for a voice AI that is given every field with the conditionals removed
(`x-voice.conditionals: "flatten"`): each conditional field's description says when to ask it.

Common conditions read naturally ("Likelihood to recommend is at most 6"); anything else is quoted as the JSON
it is, which a language model still understands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from survey_bot.forms.conditions import Branch, Conditional
from survey_bot.forms.model import Form

__all__ = ["when_to_ask"]

_BOUNDS = (("minimum", "at least"), ("maximum", "at most"), ("exclusiveMinimum", "more than"),
           ("exclusiveMaximum", "less than"))


def when_to_ask(form: Form) -> dict[str, str]:
    """{field name: the sentence saying when to ask it and whether it is then required} for the fields a
    conditional names."""
    said: dict[str, list[str]] = {}
    required: dict[str, list[str]] = {}
    _walk(form, form.logic.conditionals, [], said, required)
    sentences = {}
    for name, conditions in said.items():
        text = f"Ask this only when {' or when '.join(dict.fromkeys(conditions))}."
        if name in required:
            same = required[name] == conditions
            text += " It is then required." if same else f" It is required when {' or when '.join(required[name])}."
        sentences[name] = text
    return sentences


def _walk(form: Form, conditionals: Iterable[Conditional], chain: list[str], said: dict[str, list[str]],
          required: dict[str, list[str]]) -> None:
    for conditional in conditionals:
        holds = _condition(form, conditional)
        for branch, words in ((conditional.then, holds), (conditional.otherwise, f"not ({holds})")):
            if branch is not None:
                _branch(form, branch, [*chain, words], said, required)


def _branch(form: Form, branch: Branch, chain: list[str], said: dict[str, list[str]],
            required: dict[str, list[str]]) -> None:
    condition = " and ".join(chain)
    for name in sorted(branch.names, key=[f.name for f in form.fields].index):
        said.setdefault(name, []).append(condition)
        if name.split(".")[len(branch.prefix)] in branch.required:
            required.setdefault(name, []).append(condition)
    _walk(form, branch.conditionals, chain, said, required)


def _condition(form: Form, conditional: Conditional) -> str:
    prefix = ".".join(conditional.prefix)
    if conditional.test is None:  # dependentRequired / dependentSchemas: the named field is answered
        return " and ".join(f"{_title(form, name)} is answered" for name in sorted(conditional.reads))
    return _test(form, conditional.test, prefix)


def _test(form: Form, test: Mapping[str, Any], prefix: str) -> str:
    parts: list[str] = []
    properties = test.get("properties") if isinstance(test.get("properties"), Mapping) else {}
    for key, schema in (properties or {}).items():
        name = f"{prefix}.{key}" if prefix else key
        parts.append(_about(_title(form, name), schema))
    for key in test.get("required", []) if isinstance(test.get("required"), list) else []:
        if key not in (properties or {}):
            parts.append(f"{_title(form, f'{prefix}.{key}' if prefix else key)} is answered")
    if isinstance(test.get("not"), Mapping):
        parts.append(f"not ({_test(form, test['not'], prefix)})")
    for member in test.get("allOf", []) if isinstance(test.get("allOf"), list) else []:
        if isinstance(member, Mapping):
            parts.append(_test(form, member, prefix))
    rest = {k: v for k, v in test.items() if k not in ("properties", "required", "not", "allOf")}
    if rest or not parts:
        parts.append(f"the answers match {json.dumps(rest or test, sort_keys=True)}")
    return " and ".join(parts)


def _about(title: str, schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return f"{title} is answered" if schema is True else f"{title} is not answered"
    parts = []
    if "const" in schema:
        parts.append(f"is {_value(schema['const'])}")
    if isinstance(schema.get("enum"), list):
        parts.append(f"is one of {', '.join(_value(v) for v in schema['enum'])}")
    parts += [f"is {words} {schema[key]}" for key, words in _BOUNDS if key in schema]
    rest = {k: v for k, v in schema.items() if k not in ("const", "enum", "type", *(k for k, _ in _BOUNDS))}
    if rest or not parts:
        parts.append(f"matches {json.dumps(rest or dict(schema), sort_keys=True)}")
    return f"{title} " + " and ".join(parts)


def _value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else "yes" if value is True else "no" if value is False \
        else json.dumps(value)


def _title(form: Form, name: str) -> str:
    try:
        return f"'{form.field(name).title}'"
    except KeyError:
        return f"'{name}'"
