"""One FHIR R4 Questionnaire item as a form field's JSON Schema: its type, its answer options, its limits.

What a schema cannot hold is returned as a note (the caller lists it with the item's linkId), never dropped
silently. A choice's codings become enum values (the codes), their `display` the `x-labels`, their `system` the
`x-fhir-system` (one system, or code -> system when they differ); options of another kind keep their type
(`valueInteger`: an integer enum; `valueString`: a string enum marked `x-fhir-answer: valueString`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CHOICE_TYPES", "SIMPLE_TYPES", "SKIPPED_TYPES", "choice_schema_of", "limits", "option_value"]

SIMPLE_TYPES: Mapping[str, Mapping[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "string": {"type": "string"},
    "text": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "dateTime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "url": {"type": "string", "format": "uri"},
}
CHOICE_TYPES = frozenset({"choice", "open-choice"})
SKIPPED_TYPES: Mapping[str, str] = {
    "display": "display text, not a question: not asked",
    "question": "type `question` is abstract (no answer type): not asked",
    "attachment": "an attachment cannot be given on a phone call: not asked",
    "reference": "a reference to another resource cannot be given on a phone call: not asked",
    "quantity": "a quantity (value and unit) has no form field type: not asked",
}
# answerOption value[x] -> the JSON Schema of such values (valueCoding: the codes)
_OPTION_SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "valueCoding": {"type": "string"},
    "valueString": {"type": "string", "x-fhir-answer": "valueString"},
    "valueInteger": {"type": "integer"},
    "valueDate": {"type": "string", "format": "date"},
    "valueTime": {"type": "string", "format": "time"},
}
_MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
_MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
_MAX_LABEL = 500

Note = Callable[[str], None]


def option_value(option: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The value[x] of an answerOption or an enableWhen answer: (its key, its value)."""
    for key, value in option.items():
        if key.startswith(("value", "answer")) and key not in ("answerOption", "answerValueSet"):
            return key, value
    return None


def choice_schema_of(item: Mapping[str, Any], resource: Mapping[str, Any], note: Note) -> dict[str, Any] | None:
    """The schema of a choice item's answer (None when its options cannot be read; the note says why)."""
    options = item.get("answerOption")
    if not isinstance(options, list) or not options:
        options = _contained_options(item, resource, note)
        if options is None:
            return None
    values: list[Any] = []
    labels: dict[str, str] = {}
    systems: dict[str, str] = {}
    kinds: set[str] = set()
    for option in options:
        found = option_value(option) if isinstance(option, Mapping) else None
        if found is None or found[0] not in _OPTION_SCHEMAS:
            note(f"an answerOption holds {found[0] if found else 'no value'}: only codings, strings, integers, "
                 "dates and times become choices; not asked")
            return None
        kind, value = found
        kinds.add(kind)
        if kind == "valueCoding":
            if not isinstance(value, Mapping) or not isinstance(value.get("code"), str) or not value["code"]:
                note("an answerOption coding has no code: not asked")
                return None
            code = value["code"]
            if isinstance(value.get("display"), str) and value["display"].strip():
                labels[code] = value["display"].strip()[:_MAX_LABEL]
            if isinstance(value.get("system"), str):
                systems[code] = value["system"]
            value = code
        if value in values:
            note(f"two answerOptions share the value {value!r}: not asked")
            return None
        values.append(value)
    if len(kinds) > 1:
        note(f"answerOptions mix {', '.join(sorted(kinds))}: a choice holds one kind of value; not asked")
        return None
    schema = {**_OPTION_SCHEMAS[kinds.pop()], "enum": values}
    if labels:
        schema["x-labels"] = labels
    if systems:
        distinct = set(systems.values())
        schema["x-fhir-system"] = distinct.pop() if len(distinct) == 1 and len(systems) == len(values) else systems
    return schema


def _contained_options(item: Mapping[str, Any], resource: Mapping[str, Any], note: Note) -> list[Any] | None:
    """The codings of an answerValueSet contained in the Questionnaire (`#id`), as answerOptions."""
    reference = item.get("answerValueSet")
    if not isinstance(reference, str):
        note("a choice without answerOption or answerValueSet: not asked")
        return None
    contained = resource.get("contained")
    for value_set in contained if isinstance(contained, list) and reference.startswith("#") else []:
        if isinstance(value_set, Mapping) and value_set.get("id") == reference[1:]:
            include = value_set.get("compose", {}).get("include", [])
            options = [{"valueCoding": {**concept, "system": part.get("system")}}
                       for part in include if isinstance(part, Mapping)
                       for concept in part.get("concept", []) if isinstance(concept, Mapping)]
            if options:
                return options
    note(f"the answers come from the ValueSet {reference!r}, which is not listed in the Questionnaire: not asked")
    return None


def limits(item: Mapping[str, Any], schema: dict[str, Any], note: Note) -> None:
    """maxLength and the minValue/maxValue extensions onto the answer's schema; other extensions noted."""
    if isinstance(item.get("maxLength"), int) and schema.get("type") == "string" and "enum" not in schema:
        schema["maxLength"] = item["maxLength"]
    for extension in item.get("extension", []) if isinstance(item.get("extension"), list) else []:
        url = extension.get("url") if isinstance(extension, Mapping) else None
        found = option_value(extension) if isinstance(extension, Mapping) else None
        bound = found[1] if found and found[0] in ("valueInteger", "valueDecimal") else None
        if url in (_MIN_VALUE, _MAX_VALUE) and schema.get("type") in ("integer", "number") and bound is not None:
            schema["minimum" if url == _MIN_VALUE else "maximum"] = bound
        else:
            note(f"the extension {url!r} is not mapped")
