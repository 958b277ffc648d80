"""A Questionnaire item's `enableWhen` as the form's skip logic (forms.conditions): an `if` on the questions it
reads, whose `then` names the item (requires it when the item is required, else declares it).

Operators: `exists` (true) as `required`; `=` as `const` (`contains` for a repeating question); `!=` as a `not`
inside the `if`; `>`, `<`, `>=`, `<=` on numbers as exclusiveMinimum, exclusiveMaximum, minimum, maximum.
Several conditions join by `enableBehavior` (all: allOf, any: anyOf). The field keeps its place in the form;
several conditional fields of one object become an `allOf` of conditionals (one per distinct condition).

What the form's logic cannot say is a note and the item stays unconditional: a condition on a question of
another group (a form's condition reads the fields of its own object), `exists: false` (an unanswered question
never satisfies a condition), an order on dates or text, a quantity or a reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from survey_bot.forms.fhir_items import option_value
from survey_bot.forms.validation import schema_error

__all__ = ["Placed", "attach_conditions", "condition_of", "tidy"]

Path = tuple[str, ...]
_ORDER = {">": "exclusiveMinimum", "<": "exclusiveMaximum", ">=": "minimum", "<=": "maximum"}


@dataclass(frozen=True)
class Placed:
    """Where an item's field went: its path, its answer's schema (an array when it repeats), whether it lies
    inside a repeating group."""

    path: Path
    schema: Mapping[str, Any]
    in_array: bool


def attach_conditions(item: Mapping[str, Any], path: Path, placed: Mapping[str, Placed],
                      objects: Mapping[Path, dict[str, Any]], note: Callable[[str, str], None]) -> None:
    """Make the field at `path` conditional on the item's enableWhen, or note why it stays unconditional."""
    link_id = item["linkId"]
    test, remark = condition_of(item.get("enableWhen"), item.get("enableBehavior"), path[:-1], placed)
    if test is None:
        note(link_id, f"{remark}: the question is always asked")
        return
    if remark:
        note(link_id, remark)
    parent, name = objects[path[:-1]], path[-1]
    required = parent.get("required", [])
    if name in required:
        required.remove(name)
        branch: dict[str, Any] = {"required": [name]}
    else:
        branch = {"properties": {name: {}}}
    members: list[dict[str, Any]] = parent.setdefault("allOf", [])
    for member in members:
        if member["if"] == test:  # one conditional per distinct condition
            then = member["then"]
            if "properties" in branch:
                then.setdefault("properties", {}).update(branch["properties"])
            if "required" in branch:
                then.setdefault("required", []).extend(branch["required"])
            return
    members.append({"if": test, "then": branch})


def tidy(objects: Mapping[Path, dict[str, Any]]) -> None:
    """An object with one conditional holds it as its own if/then rather than an allOf of one."""
    for schema in objects.values():
        members = schema.get("allOf")
        if isinstance(members, list) and len(members) == 1:
            del schema["allOf"]
            schema.update(members[0])


def condition_of(conditions: Any, behavior: Any, parent: Path, placed: Mapping[str, Placed],
                 ) -> tuple[dict[str, Any] | None, str]:
    """(the `if` schema, a remark) or (None, why it cannot be said)."""
    if not isinstance(conditions, list) or not conditions:
        return None, "enableWhen is not a list of conditions"
    parts: list[dict[str, Any]] = []
    for condition in conditions:
        part, why = _part(condition, parent, placed)
        if part is None:
            return None, why
        parts.append(part)
    if len(parts) == 1:
        return parts[0], ""
    if behavior not in ("all", "any", None):
        return None, f"enableBehavior {behavior!r} is neither all nor any"
    reads = {json.dumps(sorted(part.get("required", []))) for part in parts}
    remark = ("enableBehavior any: asked once every question it reads has an answer (or been skipped), then if "
              "one condition holds") if behavior == "any" and len(reads) > 1 else ""
    return {"anyOf" if behavior == "any" else "allOf": parts}, remark


def _part(condition: Any, parent: Path, placed: Mapping[str, Placed]) -> tuple[dict[str, Any] | None, str]:
    """One enableWhen condition as a part of an `if`."""
    if not isinstance(condition, Mapping):
        return None, "an enableWhen entry is not an object"
    question, operator = condition.get("question"), condition.get("operator")
    target = placed.get(question) if isinstance(question, str) else None
    if target is None:
        return None, f"enableWhen reads {question!r}, which is not an imported question"
    if target.path[:-1] != parent or target.in_array:
        return None, (f"enableWhen reads {question!r} from another group; a form's condition reads the questions "
                      "of its own group")
    key, schema = target.path[-1], target.schema
    if schema.get("type") == "object" or (schema.get("type") == "array" and
                                          isinstance(schema.get("items"), Mapping) and
                                          schema["items"].get("type") == "object"):
        return None, f"enableWhen reads the group {question!r}, not a question"
    found = option_value(condition)
    if operator == "exists":
        if found is not None and found[1] is True:
            return {"required": [key]}, ""
        return None, "enableWhen `exists: false` cannot be said (an unanswered question never satisfies a condition)"
    if found is None or found[0] in ("answerQuantity", "answerReference"):
        return None, f"enableWhen compares with {found[0] if found else 'nothing'}, which the form cannot hold"
    kind, value = found
    if kind == "answerCoding":
        value = value.get("code") if isinstance(value, Mapping) else None
    repeating = schema.get("type") == "array"
    one = schema["items"] if repeating and isinstance(schema.get("items"), Mapping) else schema
    if value is None or schema_error(one, value) is not None:
        return None, f"enableWhen compares {question!r} with {value!r}, which is not one of its answers"
    test: dict[str, Any]
    if operator in ("=", "!="):
        test = {"contains": {"const": value}} if repeating else {"const": value}
        if operator == "!=":
            test = {"not": test}
    elif operator in _ORDER:
        if repeating or isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"enableWhen {operator} on {question!r}: only numbers are ordered by the form's conditions"
        test = {_ORDER[operator]: value}
    else:
        return None, f"enableWhen operator {operator!r} is not known"
    return {"properties": {key: test}, "required": [key]}, ""
