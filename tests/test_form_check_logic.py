"""`forms check` on skip logic and on what users trip over: every error with its JSON pointer, warnings that do
not fail unless --strict, and never a traceback on any JSON input (a bounded hypothesis fuzz)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey_bot.forms.check import check_document
from survey_bot.forms.load import parse_form
from survey_bot.telephony.form_rules import speech_problems

REPO = Path(__file__).resolve().parent.parent
SURVEY = json.loads((REPO / "forms" / "customer_satisfaction.json").read_text())
INTAKE = json.loads((REPO / "forms" / "appointment_intake.json").read_text())
BASE: dict[str, Any] = {
    "type": "object",
    "properties": {"nps": {"type": "integer", "minimum": 0, "maximum": 10}, "reason": {"type": "string"}},
    "required": ["nps"],
}


def problems(document: Any) -> list[tuple[str, str, str]]:
    return [(p.pointer, p.message, p.severity) for p in check_document(document, "f.json", speech_problems)]


def errors(document: Any) -> dict[str, str]:
    return {pointer: message for pointer, message, severity in problems(document) if severity == "error"}


def with_(**extra: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), **extra}


@pytest.mark.parametrize(("document", "pointer", "words"), [
    (with_(**{"if": {"properties": {"score": {"maximum": 6}}}, "then": {"required": ["reason"]}}),
     "/if/properties/score", "reads 'score', which is not a field"),
    (with_(**{"if": {"required": ["nps", "ghost"]}, "then": {"required": ["reason"]}}),
     "/if/required/1", "reads 'ghost'"),
    (with_(properties={"nps": {"type": "integer", "x-sensitive": True}, "reason": {"type": "string"}},
           **{"if": {"properties": {"nps": {"maximum": 6}}}, "then": {"required": ["reason"]}}),
     "/if/properties/nps", "reads 'nps', a sensitive field"),
    (with_(**{"if": {"properties": {"nps": {"maximum": 6}}}, "then": {"required": ["why"]}}),
     "/then/required/0", "required 'why' is not a field here"),
    (with_(**{"if": {"properties": {"nps": {"maximum": 6}}},
              "then": {"properties": {"nps": {"type": "string"}}}}),
     "/then/properties/nps/type", "'nps' is integer at /properties/nps; a branch may narrow it but not make it string"),
    (with_(oneOf=[{"required": ["reason"]}, {"required": ["nps"]}]), "/oneOf", "use if/then/else"),
    (with_(anyOf=[{"required": ["reason"]}]), "/anyOf", "anyOf cannot choose which questions to ask"),
    (with_(**{"not": {"required": ["reason"]}}), "/not", "only supported inside an `if` condition"),
    (with_(then={"required": ["reason"]}), "/then", "`then` without `if` never applies"),
    (with_(allOf=[{"properties": {"extra": {"type": "string"}}}]), "/allOf/0/properties",
     "an allOf member of a form holds only conditionals"),
    (with_(dependentRequired={"email": ["reason"]}), "/dependentRequired/email", "'email' is not a field here"),
    (with_(dependentRequired={"reason": ["email"]}), "/dependentRequired/reason/0", "'email' is not a field here"),
    (with_(dependentSchemas={"ghost": {"required": ["reason"]}}), "/dependentSchemas/ghost", "not a field here"),
])
def test_logic_the_runtime_cannot_honour_is_an_error_with_a_pointer(document: dict[str, Any], pointer: str,
                                                                       words: str) -> None:
    found = errors(document)
    assert pointer in found, found
    assert words in found[pointer]


@pytest.mark.parametrize("name", ["status", "from", "to", "locale", "response_id", "completed_at",
                                  "declined_questions"])
def test_a_field_named_like_an_export_column_is_an_error(name: str) -> None:
    document = with_()
    document["properties"][name] = {"type": "string"}
    assert "an export already has that column" in errors(document)[f"/properties/{name}"]


def test_supported_logic_passes_nested_and_in_branches() -> None:
    document = with_(**{
        "allOf": [
            {"if": {"properties": {"nps": {"maximum": 6}}, "required": ["nps"]},
             "then": {"properties": {"detail": {"type": "object", "properties": {
                 "what": {"enum": ["price", "quality"]}, "more": {"type": "string", "x-dtmf": False}},
                 "if": {"properties": {"what": {"const": "price"}}, "required": ["what"]},
                 "then": {"required": ["more"]}}},
                 "required": ["reason"]},
             "else": {"properties": {"nps": {"minimum": 7}}}},
        ],
        "dependentRequired": {"reason": ["nps"]},
    })
    assert problems(document) == []
    form = parse_form(document, "nested")
    assert [f.name for f in form.fields] == ["nps", "reason", "detail.what", "detail.more"]


def test_a_decline_key_that_ends_entries_is_an_error() -> None:
    document = with_()
    document["properties"]["pin"] = {"type": "string", "pattern": "^[0-9]{4}$", "x-dtmf": {"terminator": "#"}}
    document["x-dtmf"] = {"decline_key": "#"}
    assert "declines a question" in errors(document)["/properties/pin/x-dtmf/terminator"]
    document["x-dtmf"] = {"decline_key": ""}  # declining on the keypad off: no clash
    assert errors(document) == {}


@pytest.mark.parametrize(("dtmf", "pointer", "message"), [
    ({"min_digits": 4, "max_digits": 8}, "/properties/phone/x-dtmf/max_digits",
     "max_digits 8 is too few: pattern ^[0-9]{10}$ takes exactly 10 digits"),
    ({"min_digits": 11, "max_digits": 12}, "/properties/phone/x-dtmf/min_digits",
     "min_digits 11 is too many: pattern ^[0-9]{10}$ takes exactly 10 digits"),
])
def test_an_x_dtmf_length_the_pattern_cannot_match_is_said_in_the_users_terms(dtmf: dict[str, int], pointer: str,
                                                                              message: str) -> None:
    document = with_()
    document["properties"]["phone"] = {"type": "string", "pattern": "^[0-9]{10}$", "x-dtmf": dtmf}
    assert errors(document)[pointer] == message


def test_a_pattern_no_digits_can_match_is_an_error() -> None:
    document = with_()
    document["properties"]["code"] = {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$",
                                      "x-dtmf": {"min_digits": 7, "max_digits": 7}}
    assert "the keypad types only digits" in errors(document)["/properties/code/x-dtmf"]


def test_warnings_name_the_pointer_and_the_reason() -> None:
    document = with_()
    document["properties"]["country"] = {"enum": [f"c{i}" for i in range(12)]}
    document["properties"]["phone"] = {"type": "string", "format": "phone"}
    document["required"] = ["nps", "country"]
    found = {pointer: message for pointer, message, severity in problems(document) if severity == "warning"}
    assert "12 choices has no keypad menu" in found["/properties/country"]
    assert "the keypad can never rescue it" in found["/properties/country"]
    assert "format 'phone' is not a JSON Schema format" in found["/properties/phone/format"]
    assert errors(document) == {}
    parse_form(document, "warned")  # a warning does not stop the form from loading


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "survey_bot", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_prints_warnings_exits_0_and_strict_fails(tmp_path: Path) -> None:
    document = copy.deepcopy(SURVEY)
    document["properties"]["channel"] = {"type": "string", "format": "phone"}
    path = tmp_path / "warned.json"
    path.write_text(json.dumps(document))
    relaxed = run("forms", "check", str(path), cwd=tmp_path)
    assert relaxed.returncode == 0, relaxed.stderr
    assert f"{path}: /properties/channel/format: warning: format 'phone'" in relaxed.stdout
    assert "1 warning(s)" in relaxed.stdout
    strict = run("forms", "check", "--strict", str(path), cwd=tmp_path)
    assert strict.returncode == 1
    assert "0 error(s), 1 warning(s)" in strict.stderr


def test_a_list_where_a_string_belongs_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    document = copy.deepcopy(SURVEY)
    document["x-voice"]["language"] = ["en", "es"]
    path = tmp_path / "listed.json"
    path.write_text(json.dumps(document))
    result = run("forms", "check", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert f"{path}: /x-voice/language: x-voice.language takes one language; for a form in several, list their " \
           "locales in x-locales" in result.stdout


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-20, 20) | st.floats(allow_nan=False) |
    st.sampled_from(["", "x-dtmf", "string", "object", "integer", "#", "*", "date", "nps", "^[0-9]{4}$", "en-US",
                     "https://example.com/a.wav", "http://127.0.0.1/a.wav", "satisfied", "es-US", "keypad.invalid",
                     "{reason}", "+15550100001"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "properties", "required", "enum", "if", "then", "else", "allOf", "oneOf", "not",
                         "dependentRequired", "dependentSchemas", "x-dtmf", "x-voice", "x-confirm", "x-reask",
                         "x-labels", "x-audio", "x-retention-days", "audio", "prompt", "const", "title",
                         "x-locales", "x-title", "x-description", "x-phrases", "x-language-menu", "x-numbers",
                         "x-prompt", "greeting", "voice", "transcription", "model", "es-US", "en-US",
                         "keypad.refused",
                         "pattern", "format", "minimum", "maximum", "$ref", "nps", "reason", "a"]),
        children, max_size=5),
    max_leaves=25)


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*at, index))
    return found


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(document)
    node = copied
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copied


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_check_never_raises_on_any_json(data: st.DataObject) -> None:
    """Random JSON in place of any part of a real form (and alone): problems, never an exception."""
    base = data.draw(st.sampled_from([SURVEY, INTAKE, BASE]))
    path = data.draw(st.sampled_from(_paths(base)))
    document = _replaced(base, path, data.draw(JSON))
    found = check_document(document, "fuzz.json", speech_problems)
    if not [p for p in found if p.severity == "error"]:
        parse_form(document, "fuzz", provider_check=speech_problems)  # what passes the check also loads
    check_document(data.draw(JSON), "alone.json", speech_problems)
