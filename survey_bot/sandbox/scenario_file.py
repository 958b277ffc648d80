"""Scenario files: a form's tests as data. Read (JSON or YAML), checked against scenario_schema.json and against
the form they name (every problem with a JSON pointer, never a traceback), and turned into simulator calls.

The file's shape is documented in the README ("Test your form") and published as scenario_schema.json.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from survey_bot.errors import FormProblem, ScenarioError
from survey_bot.flow.opening import Amd
from survey_bot.forms.answers import flatten
from survey_bot.forms.model import Form
from survey_bot.forms.schema_walk import escape, pointer_of
from survey_bot.simulator.scenario import (
    AIGather,
    AIHistory,
    AIPartial,
    Delivery,
    HangupAt,
    KeypadEntry,
    KeypadHangup,
    KeypadInvalid,
    KeypadTimeout,
    Scenario,
)

__all__ = ["SCHEMA_PATH", "Expectation", "ScenarioCall", "ScenarioFile", "load_scenario_document", "load_scenario_file",
           "parse_scenario", "read_scenario"]

SCHEMA_PATH = Path(__file__).with_name("scenario_schema.json")
DEFAULT_CALLER = "+15557770100"
DEFAULT_CALLEE = "+15557654321"
LANGUAGE_KEYS = "language"  # a call's keypad script for the form's language menu (x-language-menu)


@dataclass(frozen=True)
class Expectation:
    """What a call should leave behind; answers and sources by dotted field name, compared only where named."""

    status: str | None = None
    answers: Mapping[str, Any] | None = None
    sources: Mapping[str, str] | None = None
    asked_on_keypad: tuple[str, ...] | None = None
    declined: frozenset[str] | None = None
    locale: str | None = None  # the locale the response recorded
    outcome: str | None = None  # campaigns.outcomes' word for the dial
    suppressed: bool | None = None  # the number is on the suppression list afterwards


@dataclass(frozen=True)
class ScenarioCall:
    """One call of a scenario file, ready for the simulator."""

    name: str
    pointer: str
    outbound: bool
    scenario: Scenario
    expect: Expectation | None
    locale: str | None = None  # an outbound call's requested locale
    amd: Amd | None = None  # outbound: the dial's answering machine detection (and voicemail message)


@dataclass(frozen=True)
class ScenarioFile:
    """A checked scenario file."""

    path: Path
    form_id: str
    calls: tuple[ScenarioCall, ...]


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def read_scenario(path: Path) -> Any:
    """The file's data (JSON, or YAML for .yaml/.yml); ScenarioError with the line for a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([FormProblem(str(path), "", f"cannot read the file: {exc}")]) from None
    return parse_scenario(text, str(path), yaml_text=path.suffix.lower() in (".yaml", ".yml"))


def parse_scenario(text: str, source: str, *, yaml_text: bool = False) -> Any:
    """Scenario data from JSON (or YAML) text; ScenarioError with the line for a syntax error."""
    try:
        return yaml.safe_load(text) if yaml_text else json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        message = f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"
    raise ScenarioError([FormProblem(source, "", message)])


def load_scenario_file(path: Path, forms: Mapping[str, Form]) -> ScenarioFile:
    """Read and check a scenario file against the forms it may name (raises ScenarioError with every problem)."""
    return load_scenario_document(read_scenario(path), str(path), forms, path)


def load_scenario_document(data: Any, source: str, forms: Mapping[str, Form], path: Path | None = None) -> ScenarioFile:
    """Check scenario data (as read from a file, or built) against the forms (raises ScenarioError)."""
    problems = [FormProblem(source, pointer, message) for pointer, message in _schema_problems(data)]
    if problems:
        raise ScenarioError(problems)
    form = forms.get(data["form"])
    if form is None:
        known = ", ".join(sorted(forms)) or "none"
        raise ScenarioError([FormProblem(source, "/form", f"no form {data['form']!r} (known: {known})")])
    problems = [FormProblem(source, pointer, message) for pointer, message in _form_problems(data, form)]
    if problems:
        raise ScenarioError(problems)
    calls = tuple(_call(call, f"/calls/{i}", form) for i, call in enumerate(data["calls"]))
    return ScenarioFile(path or Path(source), form.form_id, calls)


def _schema_problems(data: Any) -> list[tuple[str, str]]:
    found = []
    for error in _validator().iter_errors(data):
        if error.context:
            error = best_match(error.context) or error
        found.append((pointer_of(error.absolute_path), _message(error)))
    return found


def _message(error: ValidationError) -> str:
    """jsonschema's message, in the file's own terms where it would speak of schema keywords."""
    path = [str(part) for part in error.absolute_path]
    if error.validator == "additionalProperties":
        return str(error.message).replace("Additional properties are not allowed", "unknown key")
    if error.validator == "oneOf" and len(path) >= 2 and path[-2] == "ai":
        return "an AI step is one of `partial`, `history` or `end` (with its `result`), one per step"
    if error.validator == "pattern" and len(path) >= 2 and "keypad" in path:
        return f"{error.instance!r} is not a keypad entry: digits such as \"7#\", or timeout, invalid, hangup"
    return str(error.message)


def _form_problems(data: Mapping[str, Any], form: Form) -> Iterator[tuple[str, str]]:
    names = {field.name for field in form.fields}
    keypad = {field.name for field in form.fields if field.keypad is not None}
    for i, call in enumerate(data["calls"]):
        at = f"/calls/{i}"
        outbound = call.get("direction") == "outbound"
        if outbound and "from" in call:
            yield f"{at}/from", "outbound calls come from the server's SURVEY_BOT_FROM_NUMBER: leave out `from`"
        for key in ("callee", "amd", "voicemail"):
            if not outbound and key in call:
                yield f"{at}/{key}", f"`{key}` is about an outbound call: add \"direction\": \"outbound\""
        if not outbound and "to" not in call and not form.numbers:
            yield at, f"form {form.form_id!r} has no x-numbers: say which number is called with `to`"
        if "locale" in call and not outbound:
            yield f"{at}/locale", "an inbound call's locale comes from its number or the language menu: leave out " \
                                  "`locale`, or add \"direction\": \"outbound\""
        elif "locale" in call and call["locale"] not in form.locales:
            yield f"{at}/locale", f"{call['locale']!r} is not one of the form's locales ({', '.join(form.locales)})"
        for name in call.get("keypad", {}):
            if name == LANGUAGE_KEYS and form.language_menu:
                continue  # the keys pressed at the language menu
            if name not in keypad:
                why = "is not a field of the form" if name not in names else "has no keypad mapping"
                yield f"{at}/keypad/{escape(name)}", f"{name!r} {why}"
        hangup = call.get("hangup")
        if isinstance(hangup, dict) and hangup["keypad_field"] not in keypad:
            yield f"{at}/hangup/keypad_field", f"{hangup['keypad_field']!r} is not a keypad field of the form"
        expect = call.get("expect", {})
        for key in ("answers", "sources"):
            for name in _unknown(expect.get(key, {}), form, names):
                yield f"{at}/expect/{key}/{escape(name)}", f"{name!r} is not a field of the form"
        for j, name in enumerate(expect.get("asked_on_keypad", [])):
            if name not in keypad:
                yield f"{at}/expect/asked_on_keypad/{j}", f"{name!r} is not a keypad field of the form"
        for j, name in enumerate(expect.get("declined", [])):
            if name not in names:
                yield f"{at}/expect/declined/{j}", f"{name!r} is not a field of the form"


def _unknown(values: Mapping[str, Any], form: Form, names: set[str]) -> list[str]:
    prefixes = {name.split(".")[0] for name in names}
    return [key for key in values if key not in names and not (key in prefixes and isinstance(values[key], dict))]


def _flat(values: Mapping[str, Any], form: Form) -> dict[str, Any]:
    """Expected values by dotted field name, whether the file nested them as the form does or not."""
    names = {field.name for field in form.fields}
    flat = {key: value for key, value in values.items() if key in names}
    flat.update(flatten(form, {key: value for key, value in values.items() if key not in names}))
    return flat


def _call(call: Mapping[str, Any], pointer: str, form: Form) -> ScenarioCall:
    outbound = call.get("direction") == "outbound"
    scenario = Scenario(
        direction="outgoing" if outbound else "incoming",
        from_number=call.get("from", DEFAULT_CALLER),
        to_number=call.get("to") or (DEFAULT_CALLEE if outbound else form.numbers[0]),
        ai_gathers=_gathers(call.get("ai", [])),
        keypad={name: [_entry(text) for text in entries] for name, entries in call.get("keypad", {}).items()},
        hangup=_hangup(call.get("hangup")),
        callee=call.get("callee", "human") if outbound else None,
        delivery=_delivery(call.get("delivery", {})),
        disclosure_keys=call.get("disclosure_keys"),
    )
    expect = call.get("expect")
    expectation = None if expect is None else Expectation(
        status=expect.get("status"),
        answers=_flat(expect["answers"], form) if "answers" in expect else None,
        sources=_flat(expect["sources"], form) if "sources" in expect else None,
        asked_on_keypad=tuple(expect["asked_on_keypad"]) if "asked_on_keypad" in expect else None,
        declined=frozenset(expect["declined"]) if "declined" in expect else None,
        locale=expect.get("locale"), outcome=expect.get("outcome"), suppressed=expect.get("suppressed"))
    amd = Amd(voicemail=call.get("voicemail")) if outbound and (call.get("amd") or call.get("voicemail")) else None
    return ScenarioCall(call["name"], pointer, outbound, scenario, expectation, call.get("locale"), amd)


def _gathers(steps: list[Mapping[str, Any]]) -> list[AIGather]:
    """The AI steps cut at each `end`: one gather each (steps after the last `end` end invalid)."""
    gathers: list[AIGather] = []
    heard: list[AIPartial | AIHistory] = []
    for step in steps:
        if "partial" in step:
            heard.append(AIPartial(dict(step["partial"])))
        elif "history" in step:
            heard.append(AIHistory(tuple(dict(turn) for turn in step["history"])))
        else:
            gathers.append(AIGather(tuple(heard), step["end"], step.get("result")))
            heard = []
    if heard:
        gathers.append(AIGather(tuple(heard), "invalid", None))
    return gathers


def _entry(text: str) -> KeypadEntry:
    special: dict[str, KeypadEntry] = {"timeout": KeypadTimeout(), "invalid": KeypadInvalid(), "hangup": KeypadHangup()}
    return special.get(text, text)


def _hangup(value: Any) -> HangupAt:
    if isinstance(value, dict):
        return ("keypad_field", str(value["keypad_field"]))
    return value if value in ("during_ai", "before_keypad", "during_disclosure") else None


def _delivery(value: Mapping[str, Any]) -> Delivery:
    return Delivery(duplicate_every=bool(value.get("duplicate")), reorder_window=4 if value.get("shuffle") else 0,
                    delay_s=int(value.get("delay_ms", 0)) / 1000, seed=7, drop=frozenset(value.get("drop", ())))
