"""Check a form document and find its leaf fields, reporting every problem with a JSON pointer into the file.

The vocabulary meta-schema (form_vocabulary.json, which includes the official 2020-12 meta-schema) catches
shapes; this module adds what a schema cannot say: $refs resolve, `required` names exist, x- keys are
known, keypad mappings fit their fields, and languages and voices are values the Telnyx SDK accepts.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_type_hints
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from .errors import FormProblem
from .keypad import Keypad, derive_keypad, instructions

__all__ = ["DTMF_DEFAULTS", "VOICE_DEFAULTS", "Leaf", "check_document", "form_id_problem", "humanize", "inline",
           "leaf_keypad", "leaves", "map_subschemas", "prompt_of", "read_json", "speak_payload"]

ROOT_KEYS = frozenset({"x-voice", "x-dtmf", "x-numbers"})
FIELD_KEYS = frozenset({"x-prompt", "x-dtmf"})
VOICE_DEFAULTS: Mapping[str, Any] = {"voice": "Telnyx.KokoroTTS.af", "language": "en"}
DTMF_DEFAULTS: Mapping[str, Any] = {
    "voice": "Telnyx.KokoroTTS.af", "language": "en-US", "maximum_tries": 3, "timeout_millis": 10000,
    "intro": "I'll ask the remaining questions on your keypad.", "closing": "Thank you. Goodbye.",
}
GENDER_VOICES = frozenset({"male", "female"})
MAX_SPEECH = 3000
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


class RefError(Exception):
    """A $ref that cannot be inlined: args are (pointer of the $ref, message)."""


@dataclass(frozen=True)
class Leaf:
    """A field as found in the document, before it becomes a forms.Field."""

    path: tuple[str, ...]
    schema: Mapping[str, Any]
    required: bool
    pointer: str  # where the property is declared
    origins: Mapping[str, str]  # top-level key -> pointer of the object holding it ($refs followed)
    keypad_off: bool  # an enclosing object says x-dtmf false

    def at(self, key: str) -> str:
        """Return the pointer of one of the leaf schema's own keys."""
        return f"{self.origins.get(key, self.pointer)}/{escape(key)}"


def escape(token: str) -> str:
    """Escape one JSON pointer reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(parts: Iterator[Any] | Any) -> str:
    return "".join(f"/{escape(str(p))}" for p in parts)


# ---- reading files --------------------------------------------------------------------------------------


class _Object(dict[str, Any]):
    """A JSON object that remembers keys it saw twice (json keeps only the last)."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    result = _Object(pairs)
    result.duplicates = [k for i, (k, _) in enumerate(pairs) if k in (q for q, _ in pairs[:i])]
    return result


def read_json(path: Path) -> tuple[Any, list[FormProblem]]:
    """Read a JSON file; report syntax errors with line/column and duplicated keys with their pointer."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        return None, [FormProblem(str(path), "", f"invalid JSON at {where}: {exc.msg}")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [FormProblem(str(path), "", f"cannot read the file: {exc}")]
    return document, list(_duplicates(document, "", str(path)))


def _duplicates(node: Any, pointer: str, source: str) -> Iterator[FormProblem]:
    if isinstance(node, _Object):
        for key in node.duplicates:
            yield FormProblem(source, f"{pointer}/{escape(key)}", f"duplicate key {key!r}: JSON keeps one")
    if isinstance(node, dict):
        for name, child in node.items():
            yield from _duplicates(child, f"{pointer}/{escape(name)}", source)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _duplicates(item, f"{pointer}/{index}", source)


# ---- walking schemas and $refs ---------------------------------------------------------------------------


def _walk(schema: Any, pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    if isinstance(schema, dict):
        yield schema, pointer
        children: list[tuple[Any, str]] = []
        map_subschemas(schema, lambda child, at: children.append((child, at)), pointer)
        for child, at in children:
            yield from _walk(child, at)


def _lookup(document: Any, ref: Any, at: str) -> tuple[Any, str]:
    if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
        raise RefError(at, f"only local $refs like '#/$defs/name' are supported, not {ref!r}")
    node, tokens = document, [unquote(t).replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/")]
    for token in tokens if ref != "#" else []:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise RefError(at, f"$ref {ref!r} does not resolve: no {token!r}")
    return node, _pointer(tokens) if ref != "#" else ""


Resolved = tuple[dict[str, Any], dict[str, str], tuple[str, ...]]


def resolve(document: Any, node: Any, pointer: str, seen: tuple[str, ...] = ()) -> Resolved:
    """Follow a chain of $refs: return the merged schema (siblings win), key origins, targets seen."""
    if not isinstance(node, dict):
        return {}, {}, seen
    if "$ref" not in node:
        return dict(node), {k: pointer for k in node}, seen
    target, target_pointer = _lookup(document, node["$ref"], f"{pointer}/$ref")
    if target_pointer in seen:
        raise RefError(f"{pointer}/$ref", f"$ref {node['$ref']!r} is recursive; a phone form must be finite")
    base, origins, seen = resolve(document, target, target_pointer, (*seen, target_pointer))
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    return {**base, **siblings}, {**origins, **dict.fromkeys(siblings, pointer)}, seen


def map_subschemas(schema: dict[str, Any], change: Callable[[Any, str], Any], pointer: str) -> dict[str, Any]:
    """Return a copy of `schema` with `change(subschema, pointer)` applied at every direct schema position."""
    out = dict(schema)
    for key in _ONE:
        if key in out:
            out[key] = change(out[key], f"{pointer}/{key}")
    for key in _MANY:
        if isinstance(out.get(key), list):
            out[key] = [change(s, f"{pointer}/{key}/{i}") for i, s in enumerate(out[key])]
    for key in _MAP:
        if isinstance(out.get(key), dict):
            out[key] = {n: change(s, f"{pointer}/{escape(key)}/{escape(n)}") for n, s in out[key].items()}
    return out


def inline(document: Any, node: Any, pointer: str = "", seen: tuple[str, ...] = ()) -> Any:
    """Return `node` with every $ref replaced by its target and $defs dropped (raises RefError)."""
    if not isinstance(node, dict):
        return node
    schema, _origins, seen = resolve(document, node, pointer, seen)
    schema.pop("$defs", None)
    schema.pop("definitions", None)
    return map_subschemas(schema, lambda child, at: inline(document, child, at, seen), pointer)


def _is_object(schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type", "object")
    return isinstance(schema.get("properties"), dict) and bool(schema["properties"]) and (
        declared == "object" or (isinstance(declared, list) and "object" in declared)
    )


def leaves(document: Mapping[str, Any]) -> list[Leaf]:
    """Return the form's leaf fields depth first in schema order (raises RefError)."""
    found: list[Leaf] = []
    _collect(document, document, "", (), True, False, (), found)
    return found


def _collect(document: Any, obj: Mapping[str, Any], pointer: str, prefix: tuple[str, ...],
             required: bool, keypad_off: bool, seen: tuple[str, ...], found: list[Leaf]) -> None:
    wanted: list[Any] = obj["required"] if isinstance(obj.get("required"), list) else []
    for name, sub in obj["properties"].items():
        at = f"{pointer}/properties/{escape(name)}"
        schema, origins, now_seen = resolve(document, sub, at, seen)
        is_required = required and name in wanted
        if _is_object(schema):
            off = keypad_off or schema.get("x-dtmf") is False
            where = origins.get("properties", at)
            _collect(document, schema, where, (*prefix, name), is_required, off, now_seen, found)
            continue
        leaf_schema = inline(document, schema, at, now_seen)
        found.append(Leaf((*prefix, name), leaf_schema, is_required, at, origins, keypad_off))


def leaf_keypad(leaf: Leaf) -> tuple[Keypad | None, list[tuple[str, str]]]:
    """Return the leaf's keypad and its mapping problems (an enclosing x-dtmf false turns it off)."""
    return (None, []) if leaf.keypad_off and "x-dtmf" not in leaf.schema else derive_keypad(leaf.schema)


# ---- prompts and payload (shared with forms.py so the length check matches what is sent) ---------------


def humanize(path: tuple[str, ...]) -> str:
    """Turn `preferred_slot.date` into `Preferred slot date`."""
    text = " ".join(path).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def prompt_of(schema: Mapping[str, Any], path: tuple[str, ...]) -> str:
    """Return the keypad question: x-prompt, else the description, title or name as a sentence."""
    if isinstance(schema.get("x-prompt"), str):
        return str(schema["x-prompt"])
    texts = [schema[k] for k in ("description", "title") if isinstance(schema.get(k), str)]
    text = str(texts[0]) if texts else humanize(path)
    return text if text.rstrip().endswith((".", "?", "!", ":")) else f"{text}."


def speak_payload(keypad: Keypad, schema: Mapping[str, Any], prompt: str, intro: str | None) -> str:
    """Return what gather_using_speak says for one field."""
    return " ".join(part for part in (intro, prompt, instructions(keypad, schema)) if part)


# ---- the checks -----------------------------------------------------------------------------------------


@functools.cache
def _vocabulary() -> Draft202012Validator:
    schema = json.loads((Path(__file__).parent / "form_vocabulary.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@functools.cache
def sdk_languages() -> tuple[frozenset[str], frozenset[str]]:
    """Return the language literals the Telnyx SDK accepts for gather_using_ai and gather_using_speak."""
    from telnyx.types.calls.action_gather_using_ai_params import ActionGatherUsingAIParams
    from telnyx.types.calls.action_gather_using_speak_params import ActionGatherUsingSpeakParams

    ai = get_type_hints(ActionGatherUsingAIParams)["language"]
    speak = get_type_hints(ActionGatherUsingSpeakParams)["language"]
    return frozenset(get_args(ai)), frozenset(get_args(speak))


def check_document(document: Any, source: str) -> list[FormProblem]:
    """Return every problem of a form document (never raises)."""
    if not isinstance(document, dict):
        return [FormProblem(source, "", "a form must be a JSON object (an object schema)")]
    messages = _vocabulary_problems(document) + _structure_problems(document) + _call_problems(document)
    broken = bool(messages)
    try:
        messages += _field_problems(document)
    except RefError as exc:
        messages.append((str(exc.args[0]), str(exc.args[1])))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        if not broken:  # otherwise a consequence of the problems already found
            messages.append(("", f"cannot check the fields: {exc!r}"))
    unique = dict.fromkeys(messages)
    return [FormProblem(source, pointer, message) for pointer, message in unique]


def _vocabulary_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for error in _vocabulary().iter_errors(document):
        if "propertyNames" in error.schema_path and str(error.instance).startswith("x-"):
            continue  # reported below with the key's own pointer
        if error.context:
            error = best_match(error.context) or error
        found.append((_pointer(error.absolute_path), _message(error)))
    return found


def _message(error: ValidationError) -> str:
    path = list(error.absolute_path)
    if path[:1] == ["x-numbers"] and len(path) == 2:
        return f"{error.instance!r} is not an E.164 phone number like +15550100001"
    if error.validator == "not" and error.validator_value == {} and path:
        return f"{path[-1]} does not go with choices: a menu takes one digit"
    return str(error.message)


def _structure_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for schema, pointer in _walk(document, ""):
        allowed = ROOT_KEYS if pointer == "" else FIELD_KEYS
        found += [(f"{pointer}/{escape(k)}", f"unknown key {k!r}; known here: {', '.join(sorted(allowed))}")
                  for k in schema if k.startswith("x-") and k not in allowed]
        if "$ref" in schema:
            try:
                _lookup(document, schema["$ref"], f"{pointer}/$ref")
            except RefError as exc:
                found.append((str(exc.args[0]), str(exc.args[1])))
        if "$dynamicRef" in schema:
            found.append((f"{pointer}/$dynamicRef", "$dynamicRef is not supported; use a local $ref"))
        properties, required = schema.get("properties"), schema.get("required")
        if isinstance(properties, dict) and isinstance(required, list):
            found += [(f"{pointer}/required/{i}", f"required {name!r} is not in properties")
                      for i, name in enumerate(required) if name not in properties]
        if isinstance(properties, dict):
            found += [(f"{pointer}/properties/{escape(n)}", "a property name may not be empty or contain '.'")
                      for n in properties if not n or "." in n]
    return found


def _call_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    numbers = document.get("x-numbers")
    if isinstance(numbers, list):
        found += [(f"/x-numbers/{i}", f"{n!r} is listed twice") for i, n in enumerate(numbers) if n in numbers[:i]]
    ai_languages, speak_languages = sdk_languages()
    voice: dict[str, Any] = document["x-voice"] if isinstance(document.get("x-voice"), dict) else {}
    dtmf: dict[str, Any] = document["x-dtmf"] if isinstance(document.get("x-dtmf"), dict) else {}
    if "language" in voice and voice["language"] not in ai_languages:
        found.append(("/x-voice/language", f"{voice['language']!r} is not a gather_using_ai language (en, es, ...)"))
    if voice.get("voice") in GENDER_VOICES:
        found.append(("/x-voice/voice", f"{voice['voice']!r} needs service_level basic; gather_using_ai has none"))
    if "language" in dtmf and dtmf["language"] not in speak_languages:
        found.append(("/x-dtmf/language", f"{dtmf['language']!r} is not a gather_using_speak language (en-US, ...)"))
    basic = dtmf.get("service_level") == "basic"
    if dtmf.get("voice") in GENDER_VOICES and not basic:
        found.append(("/x-dtmf/voice", f"voice {dtmf['voice']!r} is only allowed with service_level basic"))
    if basic and dtmf.get("language", "en-US") != "en-US":
        found.append(("/x-dtmf/language", "service_level basic only speaks en-US"))
    return found


def _field_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    if not isinstance(document.get("properties"), dict):
        return []
    found = []
    dtmf = document.get("x-dtmf")
    intro = dtmf.get("intro", DTMF_DEFAULTS["intro"]) if isinstance(dtmf, dict) else DTMF_DEFAULTS["intro"]
    for leaf in leaves(document):
        keypad, problems = leaf_keypad(leaf)
        found += [(leaf.at("x-dtmf") + relative, message) for relative, message in problems]
        if keypad is None:
            continue
        prompt = prompt_of(leaf.schema, leaf.path)
        length = len(speak_payload(keypad, leaf.schema, prompt, str(intro)))
        if length > MAX_SPEECH and len(prompt) <= MAX_SPEECH:  # a longer x-prompt is the vocabulary's to report
            message = f"the keypad question is {length} characters; Telnyx takes {MAX_SPEECH}"
            found.append((leaf.at("x-prompt"), message))
    for schema, pointer in _walk(document, ""):
        dtmf = schema.get("x-dtmf")
        if pointer and _is_object(schema) and isinstance(dtmf, dict):
            found.append((f"{pointer}/x-dtmf", "an object takes only x-dtmf false; map digits on its fields"))
    return found


def form_id_problem(form_id: str, source: str) -> FormProblem | None:
    """Return a problem when the form id (the file stem) cannot name a form in URLs and the CLI."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", form_id):
        return None
    return FormProblem(source, "", f"form id {form_id!r} (the file name) may hold only letters, digits, _, -")
