"""The JSON Schema the voice AI fills (`parameters`): the form without its x- keys, with a way to decline
optional questions; or, for a targeted re-ask, only the fields still wanted.

By default the conditionals go as written (Telnyx's AI is given the whole schema). `x-voice.conditionals:
"flatten"` sends every field with the conditionals removed and the conditions described in words in the
fields' descriptions, for a deployment whose AI refuses them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from survey_bot.forms.condition_words import when_to_ask
from survey_bot.forms.labels import choice_values, label_key, labels_of, spoken
from survey_bot.forms.localised import translated
from survey_bot.forms.model import DECLINED_KEY, Field, Form
from survey_bot.forms.phrases import OPT_OUT_PROPERTY
from survey_bot.forms.schema_walk import inline, map_subschemas
from survey_bot.forms.sensitive import KEYPAD_ONLY

__all__ = ["reask_parameters", "strip_extensions", "voice_parameters", "with_label_words", "with_opt_out"]

_ANNOTATIONS = ("title", "description")


def strip_extensions(schema: Any, _pointer: str = "") -> Any:
    """Drop x- keys and $-keywords at schema positions (a property named `x-ray` stays)."""
    if not isinstance(schema, dict):
        return schema
    kept = {k: v for k, v in schema.items() if not k.startswith(("x-", "$"))}
    return map_subschemas(kept, strip_extensions, _pointer)


def with_label_words(schema: Any, locale: str, _pointer: str = "") -> Any:
    """Tell the voice AI what x-labels say, in the description of each choice schema whose labels say more than
    its values (`Choices: very_satisfied (really happy), ok.`); oneOf titles already go as written."""
    if not isinstance(schema, dict):
        return schema
    schema = map_subschemas(schema, lambda child, at: with_label_words(child, locale, at), _pointer)
    values = choice_values(schema) if "x-labels" in schema else None
    labels = labels_of({"x-labels": schema["x-labels"]}, locale) if values is not None else {}
    named = [(label_key(v), labels.get(label_key(v))) for v in values or ()]
    if not any(label and label != spoken(key) for key, label in named):
        return schema
    listed = ", ".join(f"{key} ({label})" if label and label != spoken(key) else key for key, label in named)
    said = str(schema.get("description") or "").rstrip().rstrip(".")
    return {**schema, "description": f"{said}. Choices: {listed}." if said else f"Choices: {listed}."}


def voice_parameters(form: Form) -> dict[str, Any]:
    """The whole form for the first AI gather."""
    locale, source = form.locale, form.ai_document or form.document
    document = strip_extensions(with_label_words(inline(source, copy.deepcopy(dict(source))), locale))
    if form.voice.get("conditionals") == "flatten" and form.logic.conditional:
        words = when_to_ask(form)
        unconditional = [f.name for f in form.fields if f.required and f.name not in form.logic.named]
        parameters = _object_of(document, form.fields, set(unconditional), words, locale)
    else:
        parameters = document
    for field in form.fields:
        if field.sensitive == KEYPAD_ONLY:
            parameters = _without(parameters, field.path)
    return with_opt_out(form, _with_declining(parameters, [f for f in form.fields if f.name in
                                                           form.logic.never_required and f.sensitive != KEYPAD_ONLY]))


def reask_parameters(form: Form, names: Iterable[str], required: Iterable[str]) -> dict[str, Any]:
    """Only the named fields (those required of this response marked so), for a targeted re-ask."""
    source = form.ai_document or form.document
    document = strip_extensions(inline(source, copy.deepcopy(dict(source))))
    wanted, must = set(names), set(required)
    fields = [f for f in form.fields if f.name in wanted and f.sensitive != KEYPAD_ONLY]
    parameters = _object_of(document, fields, must, {}, form.locale)
    return with_opt_out(form, _with_declining(parameters, [f for f in fields if f.name not in must]))


def _without(schema: Any, path: tuple[str, ...]) -> Any:
    """The schema without the property at `path` (x-sensitive "keypad": the AI is never told of it), wherever it
    is declared: in `properties` or in a branch (then, else, allOf, dependentSchemas), and in `required`."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in ("then", "else"):
        if key in out:
            out[key] = _without(out[key], path)
    if isinstance(out.get("allOf"), list):
        out["allOf"] = [_without(branch, path) for branch in out["allOf"]]
    if isinstance(out.get("dependentSchemas"), dict):
        out["dependentSchemas"] = {k: _without(v, path) for k, v in out["dependentSchemas"].items()}
    properties = out.get("properties")
    if isinstance(properties, dict) and path[0] in properties:
        properties = dict(properties)
        if len(path) == 1:
            del properties[path[0]]
            if isinstance(out.get("required"), list):
                out["required"] = [name for name in out["required"] if name != path[0]]
        else:
            properties[path[0]] = _without(properties[path[0]], path[1:])
        out["properties"] = properties
    return out


def _object_of(document: Mapping[str, Any], fields: Iterable[Field], required: set[str],
               words: Mapping[str, str], locale: str) -> dict[str, Any]:
    """An object schema holding just these fields (nested objects rebuilt along their paths, keeping the
    objects' titles and descriptions), no conditionals."""
    root: dict[str, Any] = {"type": "object", **_annotations(document), "properties": {}}
    for field in fields:
        node, source = root, document
        for depth, key in enumerate(field.path[:-1]):
            source = _declared(source, key)
            child = node["properties"].setdefault(key, {"type": "object", **_annotations(source), "properties": {}})
            inside = ".".join(field.path[:depth + 1]) + "."
            if key not in node.get("required", ()) and any(name.startswith(inside) for name in required):
                node.setdefault("required", []).append(key)
            node = child
        schema = strip_extensions(with_label_words(translated(copy.deepcopy(dict(field.schema)), locale, locale),
                                                   locale))
        if field.name in words:
            said = str(schema.get("description") or field.title)
            schema["description"] = f"{said.rstrip('.')}. {words[field.name]}"
        node["properties"][field.path[-1]] = schema
        if field.name in required:
            node.setdefault("required", []).append(field.path[-1])
    return root


def _declared(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    properties = schema.get("properties")
    found = properties.get(key) if isinstance(properties, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _annotations(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: schema[k] for k in _ANNOTATIONS if isinstance(schema.get(k), str)}


def _with_declining(parameters: dict[str, Any], optional: list[Field]) -> dict[str, Any]:
    """Let the AI report the optional questions the caller declined (a declined answer is not a missing one)."""
    if not optional:
        return parameters
    properties = dict(parameters.get("properties") or {})
    properties[DECLINED_KEY] = {
        "type": "array",
        "uniqueItems": True,
        "items": {"enum": [f.name for f in optional]},
        "description": "The optional questions the caller said they would rather not answer, by name. Leave it "
                       "empty otherwise; never list a question the caller answered.",
    }
    return {**parameters, "properties": properties}


def with_opt_out(form: Form, parameters: dict[str, Any]) -> dict[str, Any]:
    """With an opt-out (x-opt-out, x-disclosure), a flag the AI sets when the caller asks not to be called again."""
    if form.opt_out_key is None:
        return parameters
    properties = dict(parameters.get("properties") or {})
    properties[OPT_OUT_PROPERTY] = {
        "type": "boolean",
        "description": "Set to true only if the caller asks not to be called again (or to be taken off the list); "
                       "then thank them, say goodbye and end the conversation. Leave it out otherwise.",
    }
    return {**parameters, "properties": properties}
