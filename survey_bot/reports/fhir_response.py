"""One response as an HL7 FHIR R4 QuestionnaireResponse, pure: the form version's items, then the answers typed.

The items follow the form version the response used: a nested object is a group item, an array repeats (an array
of objects: a repeating group), every other field a question. Each item's linkId is the field's `x-fhir-linkId`
(kept by `forms import-fhir`), else its dotted name. An answer is typed by its field: boolean valueBoolean,
integer valueInteger, number valueDecimal, string by its format (date valueDate, date-time valueDateTime, time
valueTime, uri valueUri; else valueString), a choice of strings valueCoding (the code, `x-fhir-system` and the
label as `display`) unless `x-fhir-answer` says valueString. An answer missing, declined or made not applicable
has no item; a group without answers neither.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from survey_bot.forms.keypad import types_of
from survey_bot.forms.labels import choice_values, form_locale, labels_of
from survey_bot.forms.schema_walk import branches, escape, is_object, leaves, resolve
from survey_bot.vocabulary import ABANDONED, COMPLETED, IN_PROGRESS, PARTIAL

__all__ = ["FHIR_STATUS", "Item", "form_items", "questionnaire_of", "questionnaire_response"]

FHIR_STATUS: Mapping[str, str] = {COMPLETED: "completed", IN_PROGRESS: "in-progress", PARTIAL: "stopped",
                                  ABANDONED: "stopped"}  # failed responses are not exported
_CLOCK = re.compile(r"(\d\d:\d\d)(:\d\d(?:\.\d{1,9})?)?")
_FORMATS = {"date": "valueDate", "date-time": "valueDateTime", "time": "valueTime", "uri": "valueUri"}


@dataclass(frozen=True)
class Item:
    """A form field (or group) as a Questionnaire item."""

    key: str  # its key in its object
    link_id: str
    text: str | None
    answer: str  # the value[x] of its answers ("" for a group)
    repeats: bool
    system: str | Mapping[str, str] | None = None
    labels: Mapping[str, str] | None = None
    children: tuple[Item, ...] = ()


def questionnaire_of(document: Mapping[str, Any], form_id: str) -> str:
    """The canonical a response names its Questionnaire by: the imported one's, else the form's own URN."""
    declared = document.get("x-fhir-questionnaire")
    return declared if isinstance(declared, str) and declared else f"urn:survey-bot:form:{form_id}"


def form_items(document: Mapping[str, Any]) -> tuple[Item, ...]:
    """A form version's fields as Questionnaire items, nested as the form nests them, in form order."""
    locale = form_locale(document)
    root: dict[str, Any] = {}  # key -> Item or (group schema, its children's dict)
    for leaf in leaves(document):
        level: dict[str, Any] = root
        prefix: tuple[str, ...] = ()
        for key in leaf.path[:-1]:
            prefix = (*prefix, key)
            if key not in level:
                level[key] = (_object_at(document, prefix), {})
            level = level[key][1]
        level[leaf.path[-1]] = _leaf(leaf.path, leaf.schema, locale)
    return _freeze(root, ())


def _freeze(level: Mapping[str, Any], prefix: tuple[str, ...]) -> tuple[Item, ...]:
    found = []
    for key, entry in level.items():
        if isinstance(entry, Item):
            found.append(entry)
        else:
            schema, children = entry
            path = (*prefix, key)
            found.append(Item(key, _link_id(schema, path), _text(schema), "", False,
                              children=_freeze(children, path)))
    return tuple(found)


def _leaf(path: tuple[str, ...], schema: Mapping[str, Any], locale: str) -> Item:
    repeats = "array" in types_of(schema) and isinstance(schema.get("items"), Mapping)
    one: Mapping[str, Any] = schema["items"] if repeats else schema
    link_id, text = _link_id(schema, path), _text(schema)
    if repeats and is_object(one):  # a repeating group: its items' own fields, without skip logic
        children = tuple(_leaf((*path, key), sub, locale) for key, sub in one["properties"].items()
                         if isinstance(sub, Mapping))
        return Item(path[-1], link_id, text, "", True, children=children)
    answer = _answer_type(one)
    coded = answer == "valueCoding"
    return Item(path[-1], link_id, text, answer, repeats, one.get("x-fhir-system") if coded else None,
                labels_of(one, locale) if coded else None)


def _answer_type(schema: Mapping[str, Any]) -> str:
    declared = schema.get("x-fhir-answer")
    if isinstance(declared, str):
        return declared
    values = choice_values(schema)
    types = types_of(schema)
    if values is not None and values and all(isinstance(v, str) for v in values):
        return "valueCoding"
    if types == {"boolean"}:
        return "valueBoolean"
    if types == {"integer"}:
        return "valueInteger"
    if types and types <= {"integer", "number"}:
        return "valueDecimal"
    return _FORMATS.get(str(schema.get("format")), "valueString")


def _object_at(document: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any]:
    """The schema of the nested object at `path` (declared in properties or in a branch; $refs followed)."""
    node: Mapping[str, Any] = document
    pointer = ""
    for key in path:
        found: Any = None
        for schema, at in [(node, pointer), *((b, a) for a, b, _seen in branches(document, node, pointer))]:
            properties = schema.get("properties")
            if isinstance(properties, Mapping) and key in properties:
                found, pointer = properties[key], f"{at}/properties/{escape(key)}"
                break
        node = resolve(document, found, pointer)[0]
    return node


def _link_id(schema: Mapping[str, Any], path: tuple[str, ...]) -> str:
    declared = schema.get("x-fhir-linkId")
    return declared if isinstance(declared, str) and declared else ".".join(path)


def _text(schema: Mapping[str, Any]) -> str | None:
    title = schema.get("title")
    return title if isinstance(title, str) and title.strip() else None


def questionnaire_response(record: Mapping[str, Any], items: tuple[Item, ...], questionnaire: str) -> dict[str, Any]:
    """The QuestionnaireResponse of an NDJSON export record (reports.export_rows.ndjson_record)."""
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse", "id": record["response_id"],
        "identifier": {"system": "urn:survey-bot:response", "value": record["response_id"]},
        "questionnaire": questionnaire, "status": FHIR_STATUS[record["status"]],
        "authored": record["completed_at"] or record["started_at"],
    }
    answered = _items(items, record["answers"])
    if answered:
        resource["item"] = answered
    return resource


def _items(items: tuple[Item, ...], answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in items:
        value = answers.get(item.key)
        if value is None:
            continue
        head = {"linkId": item.link_id, **({"text": item.text} if item.text else {})}
        if item.children:
            for group in (value if item.repeats and isinstance(value, list) else [value]):
                nested = _items(item.children, group) if isinstance(group, Mapping) else []
                if nested:
                    found.append({**head, "item": nested})
            continue
        typed = [_typed(item, v) for v in (value if item.repeats and isinstance(value, list) else [value])
                 if v is not None]
        if typed:
            found.append({**head, "answer": typed})
    return found


def _typed(item: Item, value: Any) -> dict[str, Any]:
    """One answer as value[x] (a value the field's type does not describe, as an older version kept it:
    valueString)."""
    kind = item.answer
    if kind == "valueCoding" and isinstance(value, str):
        system = item.system.get(value) if isinstance(item.system, Mapping) else item.system
        display = (item.labels or {}).get(value)
        return {kind: {**({"system": system} if system else {}), "code": value,
                       **({"display": display} if display else {})}}
    if kind == "valueBoolean" and isinstance(value, bool):
        return {kind: value}
    if kind == "valueInteger" and isinstance(value, int) and not isinstance(value, bool):
        return {kind: value}
    if kind == "valueDecimal" and isinstance(value, int | float) and not isinstance(value, bool):
        return {kind: value}
    if kind == "valueTime" and isinstance(value, str):
        return {kind: _fhir_time(value)}
    if kind in ("valueDate", "valueDateTime", "valueUri") and isinstance(value, str):
        return {kind: value}
    return {"valueString": value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)}


def _fhir_time(value: str) -> str:
    """A form's time of day ("09:30", an offset allowed) as FHIR's time (hh:mm:ss, no offset)."""
    found = _CLOCK.match(value)
    return value if found is None else found[1] + (found[2] or ":00")
