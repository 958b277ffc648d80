"""An HL7 FHIR R4 Questionnaire as a survey-bot form, pure (JSON in; the form and the notes on what it lost out).

Each item's linkId becomes a valid field name (characters other than letters, digits and _ replaced; a clash
numbered), the original kept as `x-fhir-linkId`; `text` is the `title` and the keypad's `x-prompt`; `required`
goes into the object's `required`; `repeats` makes an array; a group is a nested object (fhir_items has the
answer types). `enableWhen` becomes the form's skip logic (fhir_enable_when). Whatever cannot be mapped is a note
naming the item's linkId: the caller prints each, so nothing is lost silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from survey_bot.forms.fhir_enable_when import Placed, attach_conditions, tidy
from survey_bot.forms.fhir_items import CHOICE_TYPES, SIMPLE_TYPES, SKIPPED_TYPES, choice_schema_of, limits
from survey_bot.vocabulary import RESERVED_NAMES

__all__ = ["ImportNote", "Imported", "QuestionnaireError", "import_questionnaire"]

_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
_MAX_SPEECH = 3000


class QuestionnaireError(ValueError):
    """The document is not a Questionnaire a form can be made of (the message names where)."""


@dataclass(frozen=True)
class ImportNote:
    """Something of the Questionnaire the form does not hold, and the item it belongs to."""

    link_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.link_id}: {self.message}"


@dataclass(frozen=True)
class Imported:
    """The form made of a Questionnaire, the id it suggests, and what could not be mapped."""

    form_id: str
    document: dict[str, Any]
    notes: tuple[ImportNote, ...]


@dataclass
class _Walk:
    resource: Mapping[str, Any]
    notes: list[ImportNote] = field(default_factory=list)
    placed: dict[str, Placed] = field(default_factory=dict)  # linkId -> where its field went
    objects: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)  # path -> object schema
    pending: list[tuple[Mapping[str, Any], tuple[str, ...]]] = field(default_factory=list)  # items with enableWhen

    def note(self, link_id: str, message: str) -> None:
        self.notes.append(ImportNote(link_id, message))


def import_questionnaire(resource: Any) -> Imported:
    """Make a form of a Questionnaire (raises QuestionnaireError when there is nothing to make one of)."""
    if not isinstance(resource, Mapping) or resource.get("resourceType") != "Questionnaire":
        found = resource.get("resourceType") if isinstance(resource, Mapping) else type(resource).__name__
        raise QuestionnaireError(f"/resourceType: expected a FHIR Questionnaire, found {found!r}")
    items = resource.get("item")
    if not isinstance(items, list) or not items:
        raise QuestionnaireError("/item: the Questionnaire has no items, so no questions")
    walk = _Walk(resource)
    title = next((resource[k] for k in ("title", "name", "id") if isinstance(resource.get(k), str)), "Questionnaire")
    document: dict[str, Any] = {"$schema": _SCHEMA, "title": title}
    if isinstance(resource.get("description"), str) and resource["description"].strip():
        document["description"] = resource["description"]
    document["type"] = "object"
    properties, required = _group(walk, items, (), False)
    if not properties:
        raise QuestionnaireError("/item: none of the items can be asked on a phone call: "
                                 + "; ".join(map(str, walk.notes)))
    document["properties"] = properties
    if required:
        document["required"] = required
    walk.objects[()] = document
    for item, path in walk.pending:
        attach_conditions(item, path, walk.placed, walk.objects, walk.note)
    tidy(walk.objects)
    for schema in walk.objects.values():  # a field made conditional may have left its object's `required` empty
        if schema.get("required") == []:
            del schema["required"]
    reference = _canonical(resource)
    if reference:
        document["x-fhir-questionnaire"] = reference
    return Imported(_form_id(resource, title), document, tuple(walk.notes))


def _group(walk: _Walk, items: Sequence[Any], path: tuple[str, ...], in_array: bool,
           ) -> tuple[dict[str, Any], list[str]]:
    """The properties and required names of one level of items."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("linkId"), str) or not item["linkId"]:
            walk.note(f"item[{index}]" if not path else ".".join(path), "an item without a linkId: not imported")
            continue
        link_id = item["linkId"]
        name = _name(link_id, properties, top=not path)
        schema = _field(walk, item, (*path, name), in_array)
        if schema is None:
            continue
        properties[name] = schema
        if item.get("required") is True:
            required.append(name)
        if item.get("enableWhen"):
            if in_array:
                walk.note(link_id, "enableWhen inside a repeating group is not mapped: the question is always asked")
            else:
                walk.pending.append((item, (*path, name)))
        children = item.get("item")
        if item.get("type") != "group" and isinstance(children, list) and children:
            walk.note(link_id, "items nested under a question are imported beside it, not under it")
            more, more_required = _group(walk, children, path, in_array)
            properties.update({k: v for k, v in more.items() if k not in properties})
            required += [k for k in more_required if k not in required]
    return properties, required


def _field(walk: _Walk, item: Mapping[str, Any], path: tuple[str, ...], in_array: bool) -> dict[str, Any] | None:
    """One item's schema (None: not imported, with a note)."""
    link_id, kind = item["linkId"], item.get("type")

    def note(message: str) -> None:
        walk.note(link_id, message)

    text = item.get("text") if isinstance(item.get("text"), str) and item["text"].strip() else None
    if item.get("readOnly") is True and kind != "group":
        note("a read-only item is shown, never answered: not asked")
        return None
    schema: dict[str, Any] | None
    if kind == "group":
        children = item.get("item")
        if not isinstance(children, list) or not children:
            note("a group without items: not imported")
            return None
        repeats = item.get("repeats") is True
        properties, required = _group(walk, children, path, in_array or repeats)
        if not properties:
            note("none of the group's items can be asked: not imported")
            return None
        schema = {"type": "object", "properties": properties, **({"required": required} if required else {})}
        group = {**({"title": text} if text else {}), **(
            {"type": "array", "items": schema, "minItems": 1} if repeats else schema), "x-fhir-linkId": link_id}
        if not repeats and not in_array:
            walk.objects[path] = group  # where the conditionals of its items go
        walk.placed[link_id] = Placed(path, group, in_array)
        return group
    if isinstance(kind, str) and kind in SIMPLE_TYPES:
        schema = dict(SIMPLE_TYPES[kind])
    elif kind in CHOICE_TYPES:
        schema = choice_schema_of(item, walk.resource, note if kind == "choice" else _silent)
        if kind == "open-choice":
            options = f" (its options: {', '.join(map(str, schema['enum']))})" if schema else ""
            note(f"open-choice is asked as free text{options}; exported as valueString")
            schema = {"type": "string", "x-fhir-answer": "valueString"}
        elif schema is None:
            return None
    else:
        note(SKIPPED_TYPES.get(str(kind), f"the item type {kind!r} is not known: not asked"))
        return None
    limits(item, schema, note)
    for word in ("initial", "answerExpression", "code"):
        if word in item:
            note(f"{word} is not mapped")
    head = {"title": text} if text else {}
    if text and not in_array:
        head["x-prompt"] = text[:_MAX_SPEECH]
        if len(text) > _MAX_SPEECH:
            note(f"the text is longer than {_MAX_SPEECH} characters: the keypad question is cut there")
    placed = schema if item.get("repeats") is not True else \
        {"type": "array", "items": schema, "minItems": 1, **({"uniqueItems": True} if "enum" in schema else {})}
    walk.placed[link_id] = Placed(path, placed, in_array)
    return {**head, **placed, "x-fhir-linkId": link_id}


def _silent(_message: str) -> None:
    """Notes not worth listing (an open-choice's options are listed once, by the caller)."""


def _name(link_id: str, taken: Mapping[str, Any], top: bool) -> str:
    """A valid, unused field name for a linkId."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", link_id)
    if not name[0].isalpha():
        name = f"q_{name}"
    if top and name in RESERVED_NAMES:
        name = f"{name}_answer"
    unique, number = name, 2
    while unique in taken:
        unique, number = f"{name}_{number}", number + 1
    return unique


def _canonical(resource: Mapping[str, Any]) -> str | None:
    """What a QuestionnaireResponse names the Questionnaire by: its url (|version), else Questionnaire/<id>."""
    url = resource.get("url")
    if isinstance(url, str) and url:
        version = resource.get("version")
        return f"{url}|{version}" if isinstance(version, str) and version else url
    return f"Questionnaire/{resource['id']}" if isinstance(resource.get("id"), str) and resource["id"] else None


def _form_id(resource: Mapping[str, Any], title: str) -> str:
    """The form id a Questionnaire suggests (its name, else its id, else its title), as a valid file stem."""
    source = next((resource[k] for k in ("name", "id") if isinstance(resource.get(k), str) and resource[k]), title)
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", source).strip("_-")
    return cleaned or "questionnaire"
