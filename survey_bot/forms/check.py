"""Check a form document, reporting every problem with a JSON pointer into the file.

The vocabulary meta-schema (form_vocabulary.json, which includes the official 2020-12 meta-schema) catches
shapes; this module adds what a schema cannot say: $refs resolve, `required` names exist, x- keys are
known, keypad mappings fit their fields. What only the telephony provider knows (its languages and voices)
is checked by the `provider_check` the caller passes (survey_bot.telephony.form_rules for Telnyx).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from survey_bot.errors import FormProblem
from survey_bot.forms.audio import audio_problems
from survey_bot.forms.catalogue import Phrases
from survey_bot.forms.check_locales import locale_problems, locale_warnings
from survey_bot.forms.check_logic import logic_problems
from survey_bot.forms.check_warnings import warnings_of
from survey_bot.forms.keypad import confirms, leaf_keypad
from survey_bot.forms.labels import label_problems
from survey_bot.forms.localised import locales_of, pick
from survey_bot.forms.model import DTMF_DEFAULTS
from survey_bot.forms.opt_out import opt_out_problems
from survey_bot.forms.phrases import prompt_of, speak_payload
from survey_bot.forms.placeholders import placeholder_problems, placeholder_warnings
from survey_bot.forms.schema_walk import RefError, escape, is_object, leaves, lookup, pointer_of, resolve, walk
from survey_bot.forms.sensitive import KEYPAD_ONLY, sensitivity

__all__ = ["ProviderCheck", "check_document", "errors_only", "form_id_problem", "read_json"]

# A provider's own checks of a form document: (JSON pointer, message) for each problem found.
ProviderCheck = Callable[[dict[str, Any]], list[tuple[str, str]]]

ROOT_KEYS = frozenset({"x-voice", "x-dtmf", "x-numbers", "x-reask", "x-retention-days", "x-locales", "x-title",
                       "x-description", "x-language-menu", "x-phrases", "x-fhir-questionnaire", "x-disclosure",
                       "x-opt-out"})


FIELD_KEYS = frozenset({"x-prompt", "x-dtmf", "x-confirm", "x-labels", "x-audio", "x-sensitive", "x-title",
                        "x-description", "x-fhir-linkId", "x-fhir-system", "x-fhir-answer"})


MAX_SPEECH = 3000
# Keys whose value is a string or an object of strings keyed by locale (type errors worded for both).
_LOCALISED = frozenset({"x-prompt", "x-title", "x-description", "greeting", "gather_ended_speech", "intro", "closing",
                        "voice", "x-disclosure"})
# A conditional branch or condition: its `required` may name the enclosing object's fields (forms.check_logic).
_BRANCH = re.compile(r"/(if|then|else)$|/dependentSchemas/[^/]+$")


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


@functools.cache
def _vocabulary() -> Draft202012Validator:
    schema = json.loads((Path(__file__).parent / "form_vocabulary.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_document(document: Any, source: str, provider_check: ProviderCheck | None = None) -> list[FormProblem]:
    """Return every problem of a form document, errors then warnings (never raises); `provider_check` adds the
    provider's own."""
    if not isinstance(document, dict):
        return [FormProblem(source, "", "a form must be a JSON object (an object schema)")]
    messages = _vocabulary_problems(document) + _structure_problems(document) + _call_problems(document)
    broken = bool(messages)
    for check in (provider_check, _field_problems, _label_problems, locale_problems, placeholder_problems):
        try:
            messages += check(document) if check is not None else []
        except RefError as exc:
            messages.append((str(exc.args[0]), str(exc.args[1])))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
            if not broken:  # otherwise a consequence of the problems already found
                messages.append(("", f"cannot check the fields: {exc!r}"))
    warnings: list[tuple[str, str]] = []
    if not broken:  # the fields can be read: warn about them too, even next to errors
        try:
            warnings = warnings_of(document, leaves(document)) + locale_warnings(document) \
                + placeholder_warnings(document)
        except (RefError, TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError):
            warnings = []  # the errors above say why
    return [FormProblem(source, pointer, message) for pointer, message in dict.fromkeys(messages)] + \
        [FormProblem(source, pointer, message, "warning") for pointer, message in dict.fromkeys(warnings)]


def errors_only(problems: list[FormProblem]) -> list[FormProblem]:
    """The problems that stop a form from loading (not the warnings)."""
    return [problem for problem in problems if problem.severity == "error"]


def _vocabulary_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for error in _vocabulary().iter_errors(document):
        if "propertyNames" in error.schema_path and str(error.instance).startswith("x-"):
            continue  # reported below with the key's own pointer
        if error.context:
            error = best_match(error.context) or error
        found.append((pointer_of(error.absolute_path), _message(error)))
    return found


def _message(error: ValidationError) -> str:
    path = list(error.absolute_path)
    if path[:1] == ["x-numbers"] and len(path) == 2 and isinstance(path[1], str):
        return f"{json.dumps(error.instance)} is not a locale like es-US (x-numbers maps numbers to locales)"
    if path[:1] == ["x-numbers"] and len(path) == 2:
        return f"{error.instance!r} is not an E.164 phone number like +15550100001"
    if error.validator == "not" and error.validator_value == {} and path:
        return f"{path[-1]} does not go with choices: a menu takes one digit"
    if "x-labels" in path[:-1] and error.validator in ("type", "pattern", "maxLength"):
        return f"the label of {path[-1]!r} must be a non-empty string (at most 500 characters)"
    if path[-1:] == ["language"] and path[:1] in (["x-voice"], ["x-dtmf"]) and isinstance(error.instance, list):
        return (f"{path[0]}.language takes one language; for a form in several, list their locales in x-locales "
                '(["en-US", "es-US"]) and leave language out')
    localised = set(path[-2:]) & _LOCALISED
    if error.validator == "type" and localised and path[-1] in _LOCALISED:
        return f"{path[-1]} takes a string or an object of strings keyed by locale ({{\"es-US\": \"...\"}})"
    if error.validator in ("type", "minLength") and localised:
        return f"the {path[-1]} text of {path[-2]} must be a non-empty string"
    if path[-1:] == ["x-sensitive"]:
        return f'x-sensitive takes true, false or "keypad", not {json.dumps(error.instance)}'
    return str(error.message)


def _structure_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for schema, pointer in walk(document, ""):
        allowed = ROOT_KEYS if pointer == "" else FIELD_KEYS
        found += [(f"{pointer}/{escape(k)}", f"unknown key {k!r}; known here: {', '.join(sorted(allowed))}")
                  for k in schema if k.startswith("x-") and k not in allowed]
        if "$ref" in schema:
            try:
                lookup(document, schema["$ref"], f"{pointer}/$ref")
            except RefError as exc:
                found.append((str(exc.args[0]), str(exc.args[1])))
        if "$dynamicRef" in schema:
            found.append((f"{pointer}/$dynamicRef", "$dynamicRef is not supported; use a local $ref"))
        properties, required = schema.get("properties"), schema.get("required")
        if isinstance(properties, dict) and isinstance(required, list) and not _BRANCH.search(pointer):
            found += [(f"{pointer}/required/{i}", f"required {name!r} is not in properties")
                      for i, name in enumerate(required) if isinstance(name, str) and name not in properties]
        if isinstance(properties, dict):
            found += [(f"{pointer}/properties/{escape(n)}", "a property name may not be empty or contain '.'")
                      for n in properties if not n or "." in n]
    return found


def _call_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    numbers = document.get("x-numbers")
    if not isinstance(numbers, list):
        return []
    return [(f"/x-numbers/{i}", f"{n!r} is listed twice") for i, n in enumerate(numbers) if n in numbers[:i]]


def _field_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    if not isinstance(document.get("properties"), dict):
        return []
    found = []
    dtmf = document.get("x-dtmf")
    locales = locales_of(document)
    say = Phrases(locales[0])
    intro = pick(dtmf.get("intro"), locales[0], locales[0]) if isinstance(dtmf, dict) else None
    intro = intro or say.text("keypad.intro")
    fields = leaves(document)
    found += logic_problems(document, fields)
    found += audio_problems(document, fields)
    decline = dtmf.get("decline_key", DTMF_DEFAULTS["decline_key"]) if isinstance(dtmf, dict) else "*"
    confirming = any(confirms(leaf.schema, leaf_keypad(leaf)[0]) for leaf in fields)
    found += opt_out_problems(document, fields, str(decline or ""), confirming)
    for leaf in fields:
        keypad, problems = leaf_keypad(leaf)
        found += [(leaf.at("x-dtmf") + relative, message) for relative, message in problems]
        if keypad is None:
            if sensitivity(leaf.schema) == KEYPAD_ONLY and not problems:
                found.append((leaf.at("x-sensitive"), 'x-sensitive "keypad": only the keypad may ask this field, '
                                                      "but it has no keypad mapping (x-dtmf); use true"))
            continue
        if decline and keypad.terminator == decline:
            found.append((leaf.at("x-dtmf") + "/terminator", f"{decline} ends this entry and declines a question "
                                                             "(x-dtmf.decline_key): pick another terminator"))
        prompt = prompt_of(leaf.schema, leaf.path, locales[0], locales[0])
        length = len(speak_payload(keypad, leaf.schema, prompt, str(intro), say))
        if length > MAX_SPEECH and len(prompt) <= MAX_SPEECH:  # a longer x-prompt is the vocabulary's to report
            message = f"the keypad question is {length} characters; Telnyx takes {MAX_SPEECH}"
            found.append((leaf.at("x-prompt"), message))
    for schema, pointer in walk(document, ""):
        dtmf = schema.get("x-dtmf")
        if pointer and is_object(schema) and isinstance(dtmf, dict):
            found.append((f"{pointer}/x-dtmf", "an object takes only x-dtmf false; map digits on its fields"))
    return found


def _label_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    """x-labels where they are written, read with their schema's $ref followed (a sibling of a $ref labels the
    target's choices)."""
    found = []
    for schema, pointer in walk(document, ""):
        if "x-labels" in schema:
            merged = resolve(document, schema, pointer)[0]
            found += [(f"{pointer}/x-labels{at}", message) for at, message in label_problems(merged)]
    return found


def form_id_problem(form_id: str, source: str) -> FormProblem | None:
    """Return a problem when the form id (the file stem) cannot name a form in URLs and the CLI."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", form_id):
        return None
    return FormProblem(source, "", f"form id {form_id!r} (the file name) may hold only letters, digits, _, -")
