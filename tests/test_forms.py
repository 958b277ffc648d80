"""Forms: the example forms, broken forms with their exact pointers, compilation, and answer validation."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pydantic
import pytest
import telnyx
from jsonschema import Draft202012Validator
from telnyx.types.calls.action_gather_using_ai_params import ActionGatherUsingAIParams
from telnyx.types.calls.action_gather_using_speak_params import ActionGatherUsingSpeakParams

from survey_bot.campaigns.settings import campaign_form_problem
from survey_bot.errors import ConfigError, FormError
from survey_bot.forms.answers import flatten, validate_answers, validate_field
from survey_bot.forms.check import check_document
from survey_bot.forms.load import check_paths, load_form, load_forms, parse_form
from survey_bot.forms.model import Form
from survey_bot.forms.validation import nest
from survey_bot.telephony.arguments import ai_gather_arguments, speak_gather_arguments
from survey_bot.telephony.form_rules import speech_problems

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "forms"
VOCABULARY = ROOT / "survey_bot" / "forms" / "form_vocabulary.json"
REQUESTS = json.loads((Path(__file__).parent / "data" / "telnyx" / "requests.json").read_text())


@pytest.fixture(scope="module")
def forms() -> dict[str, Form]:
    return load_forms(FORMS)


# ---- the example forms and the vocabulary ---------------------------------------------------------------


def test_example_forms_pass_the_check() -> None:
    paths = sorted(FORMS.glob("*.json"))
    assert [p.stem for p in paths] == ["appointment_intake", "customer_satisfaction", "purchase_follow_up"]
    assert check_paths(paths, speech_problems) == []


def test_vocabulary_is_a_2020_12_schema_over_the_official_meta_schema() -> None:
    vocabulary = json.loads(VOCABULARY.read_text())
    Draft202012Validator.check_schema(vocabulary)
    assert vocabulary["$schema"] == Draft202012Validator.META_SCHEMA["$id"]
    assert {"$ref": Draft202012Validator.META_SCHEMA["$id"]} in vocabulary["allOf"]
    validator = Draft202012Validator(vocabulary)
    for path in FORMS.glob("*.json"):
        assert list(validator.iter_errors(json.loads(path.read_text()))) == []


def test_loaded_forms(forms: dict[str, Form]) -> None:
    survey, intake = forms["customer_satisfaction"], forms["appointment_intake"]
    # properties in file order, then the fields the `then` branch declares
    assert [f.name for f in survey.fields] == [
        "nps", "satisfaction", "would_recommend", "comment", "improve_first", "topics"]
    assert [f.name for f in intake.fields if f.required] == [
        "full_name", "date_of_birth", "visit_reason", "preferred_slot.date", "preferred_slot.period"]
    assert intake.field("preferred_slot.date").path == ("preferred_slot", "date")
    assert survey.numbers == ("+15550100001", "+15550100012") and intake.numbers == ("+15550100002",)
    assert survey.number_locales == {"+15550100001": "en-US", "+15550100012": "es-US"}  # x-numbers as a mapping
    assert intake.voice["voice"] == "Telnyx.KokoroTTS.af" and intake.dtmf["maximum_tries"] == 3
    assert len(survey.version) == 64 and survey.version != intake.version
    assert survey.field("topics").keypad is None and survey.field("comment").keypad is None
    with pytest.raises(KeyError):
        survey.field("nope")


def test_the_outbound_example_is_campaign_ready_with_the_surveys_fields(forms: dict[str, Form]) -> None:
    """purchase_follow_up is what `campaign create --form` takes out of the box (the demo's campaign plays it):
    the satisfaction survey's fields under the same names, a disclosure in each locale that greets the contact by
    name, then how to opt out (key 9); no inbound numbers of its own."""
    follow_up, survey = forms["purchase_follow_up"], forms["customer_satisfaction"]
    assert [f.name for f in follow_up.fields] == [f.name for f in survey.fields]
    assert follow_up.locales == survey.locales == ("en-US", "es-US") and follow_up.numbers == ()
    assert campaign_form_problem(follow_up) is None and campaign_form_problem(survey) is not None
    assert follow_up.opt_out_key == "9" and follow_up.placeholders == {"name"}
    english, spanish = (follow_up.for_locale(locale) for locale in follow_up.locales)
    assert english.disclosure_words({"name": "Ann"}) == (
        "Hello Ann, this is Acme calling about your recent order, for a one-minute survey. If you do not want us to "
        "call you again, press 9 at any time, or just tell us.")
    assert spanish.disclosure_words({}).startswith("Hola, le llamamos de Acme por su pedido reciente")
    assert "oprima 9" in spanish.disclosure_words({})


def test_version_is_the_canonical_json_hash() -> None:
    document = json.loads((FORMS / "customer_satisfaction.json").read_text())
    reordered = dict(reversed(list(document.items())))
    assert parse_form(document, "a").version == parse_form(reordered, "a").version
    document["title"] = "Changed"
    assert parse_form(document, "a").version != load_form(FORMS / "customer_satisfaction.json").version


def test_defaults_fill_x_voice_and_x_dtmf() -> None:
    form = parse_form({"title": "Quick poll", "type": "object", "properties": {"ok": {"type": "boolean"}}}, "poll")
    assert form.voice["voice"] == "Telnyx.KokoroTTS.af" and form.voice["language"] == "en"
    assert "Quick poll" in form.voice["greeting"]
    assert form.dtmf == {
        "voice": "Telnyx.KokoroTTS.af", "language": "en-US", "maximum_tries": 3, "timeout_millis": 10000,
        "intro": "I'll ask the remaining questions on your keypad.", "closing": "Thank you. Goodbye.",
        "decline_key": "*"}
    assert form.field("ok").prompt == "Ok." and form.numbers == ()


# ---- broken forms ---------------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": 10},
        "kind": {"type": "string", "enum": ["a", "b", "c"]},
        "slot": {"type": "object", "properties": {"day": {"type": "string", "format": "date"}}},
    },
    "required": ["score"],
}


def broken(path: str, value: Any) -> dict[str, Any]:
    """BASE with `value` set at the slash-separated `path` (None deletes)."""
    document = copy.deepcopy(BASE)
    *parents, last = path.split("/")
    node = document
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        del node[last]
    else:
        node[last] = value
    return document


BROKEN = [
    ("not-object", [], "", "must be a JSON object"),
    ("not-object-type", broken("type", "array"), "/type", "'object' was expected"),
    ("no-properties", broken("properties", None), "", "'properties' is a required property"),
    ("meta-type", broken("properties/score/type", "int"), "/properties/score/type", "'int' is not one of"),
    ("meta-minimum", broken("properties/score/minimum", "zero"), "/properties/score/minimum", "not of type 'number'"),
    ("meta-regex", broken("properties/kind/pattern", "(["), "/properties/kind/pattern", "is not a 'regex'"),
    ("dialect", broken("$schema", "http://json-schema.org/draft-07/schema#"), "/$schema", "was expected"),
    ("x-field-unknown", broken("properties/score/x-promt", "Score?"), "/properties/score/x-promt", "unknown key"),
    ("x-root-unknown", broken("x-voices", {}), "/x-voices", "unknown key 'x-voices'"),
    ("x-voice-key", broken("x-voice", {"gretting": "hi"}), "/x-voice", "'gretting' was unexpected"),
    ("x-prompt-long", broken("properties/score/x-prompt", "?" * 3001), "/properties/score/x-prompt", "too long"),
    ("x-dtmf-true", broken("properties/score/x-dtmf", True), "/properties/score/x-dtmf", "False was expected"),
    ("choice-key", broken("properties/kind/x-dtmf", {"choices": {"1": "a", "2": "b", "0": "c"}}),
     "/properties/kind/x-dtmf/choices", "does not match '^[1-9]$'"),
    ("choice-outside-enum", broken("properties/kind/x-dtmf", {"choices": {"1": "a", "2": "b", "3": "c", "4": "d"}}),
     "/properties/kind/x-dtmf/choices/4", "'d' is not one of the field's enum values"),
    ("choice-unreachable", broken("properties/kind/x-dtmf", {"choices": {"1": "a", "2": "b"}}),
     "/properties/kind/x-dtmf/choices", "enum value 'c' has no digit"),
    ("choice-twice", broken("properties/kind/x-dtmf", {"choices": {"1": "a", "2": "b", "3": "c", "4": "a"}}),
     "/properties/kind/x-dtmf/choices/4", "'a' is already digit 1"),
    ("choices-non-enum", broken("properties/score/x-dtmf", {"choices": {"1": 1}}),
     "/properties/score/x-dtmf/choices", "choices need an enum"),
    ("choices-and-digits",
     broken("properties/kind/x-dtmf", {"choices": {"1": "a", "2": "b", "3": "c"}, "max_digits": 2}),
     "/properties/kind/x-dtmf/max_digits", "max_digits does not go with choices"),
    ("max-digits-short", broken("properties/score/x-dtmf", {"max_digits": 1}),
     "/properties/score/x-dtmf/max_digits", "max_digits 1 cannot hold the maximum 10"),
    ("min-over-max", broken("properties/score/x-dtmf", {"min_digits": 3, "max_digits": 2}),
     "/properties/score/x-dtmf/min_digits", "min_digits 3 is more than max_digits 2"),
    ("terminator", broken("properties/score/x-dtmf", {"terminator": "+"}),
     "/properties/score/x-dtmf/terminator", "'+' is not one of ['#', '*', '']"),
    ("digits-on-enum", broken("properties/kind/x-dtmf", {"max_digits": 2}),
     "/properties/kind/x-dtmf", "map digits with choices"),
    ("date-length", broken("properties/slot/properties/day/x-dtmf", {"max_digits": 6, "min_digits": 6}),
     "/properties/slot/properties/day/x-dtmf/max_digits", "a date is typed as exactly 8 digits"),
    ("array-digits", broken("properties/tags", {"type": "array", "x-dtmf": {"max_digits": 2}}),
     "/properties/tags/x-dtmf", "arrays and objects have no keypad entry"),
    ("object-mapping", broken("properties/slot/x-dtmf", {"max_digits": 2}),
     "/properties/slot/x-dtmf", "an object takes only x-dtmf false"),
    ("ref-missing", broken("properties/score", {"$ref": "#/$defs/nope"}),
     "/properties/score/$ref", "does not resolve"),
    ("ref-remote", broken("properties/score", {"$ref": "https://example.com/score.json"}),
     "/properties/score/$ref", "only local $refs"),
    ("ref-recursive", broken("$defs", {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}})
     | {"properties": {"head": {"$ref": "#/$defs/node"}}, "required": []},
     "/$defs/node/properties/next/$ref", "recursive"),
    ("required-unknown", broken("required", ["score", "scroe"]), "/required/1", "'scroe' is not in properties"),
    ("nested-required", broken("properties/slot/required", ["time"]),
     "/properties/slot/required/0", "'time' is not in properties"),
    ("dotted-name", broken("properties/a.b", {"type": "string"}), "/properties/a.b", "may not be empty or contain"),
    ("e164", broken("x-numbers", ["+15550100001", "5550100"]), "/x-numbers/1", "not an E.164 phone number"),
    ("number-twice", broken("x-numbers", ["+15550100001", "+15550100001"]), "/x-numbers/1", "listed twice"),
    ("ai-language", broken("x-voice", {"language": "en-US"}), "/x-voice/language", "not a gather_using_ai language"),
    ("speak-language", broken("x-dtmf", {"language": "en"}), "/x-dtmf/language", "not a gather_using_speak"),
    ("ai-gender-voice", broken("x-voice", {"voice": "male"}), "/x-voice/voice", "needs service_level basic"),
    ("speak-gender-voice", broken("x-dtmf", {"voice": "female"}), "/x-dtmf/voice", "only allowed with service_level"),
    ("basic-language", broken("x-dtmf", {"voice": "female", "service_level": "basic", "language": "de-DE"}),
     "/x-dtmf/language", "basic only speaks en-US"),
    ("x-dtmf-tries", broken("x-dtmf", {"maximum_tries": 0}), "/x-dtmf/maximum_tries", "less than the minimum"),
    ("ref-leaf-keypad", broken("$defs", {"score": {"type": "integer", "maximum": 100, "x-dtmf": {"max_digits": 2}}})
     | {"properties": {"score": {"$ref": "#/$defs/score", "minimum": 0}}},
     "/$defs/score/x-dtmf/max_digits", "max_digits 2 cannot hold the maximum 100"),
]


@pytest.mark.parametrize(("case", "document", "pointer", "fragment"), BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_form_is_rejected_at_its_pointer(case: str, document: Any, pointer: str, fragment: str) -> None:
    problems = check_document(document, "forms/broken.json", speech_problems)
    assert [p.pointer for p in problems] == [pointer], problems
    assert fragment in problems[0].message
    assert str(problems[0]) == f"forms/broken.json: {pointer or '/'}: {problems[0].message}"
    with pytest.raises(FormError) as caught:
        parse_form(document, "broken", "forms/broken.json", speech_problems)
    assert caught.value.problems == problems


def test_allowed_variants_pass() -> None:
    good = [
        broken("x-dtmf", {"voice": "female", "service_level": "basic"}),
        broken("properties/kind/x-dtmf", {"choices": {"9": "a", "5": "b", "1": "c"}}),
        broken("properties/slot/x-dtmf", False),
        broken("properties/x-ray", {"type": "string", "x-dtmf": False}),
        broken("$defs", {"score": {"type": "integer", "minimum": 0, "maximum": 10}})
        | {"properties": {"score": {"$ref": "#/$defs/score"}}},
    ]
    for document in good:
        assert check_document(document, "ok.json", speech_problems) == []
    slot_off = parse_form(good[2], "slot")
    assert slot_off.field("slot.day").keypad is None


def test_check_paths_reports_file_problems(tmp_path: Path) -> None:
    (tmp_path / "syntax.json").write_text('{\n  "type": "object",\n  "properties": {,}\n}\n')
    (tmp_path / "dup.json").write_text(
        '{"type": "object", "properties": {"k": {"enum": ["a", "b"],'
        ' "x-dtmf": {"choices": {"1": "a", "1": "b"}}}}}')
    (tmp_path / "bad name.json").write_text(json.dumps(BASE))
    (tmp_path / "first.json").write_text(json.dumps(broken("x-numbers", ["+15550100009"])))
    (tmp_path / "second.json").write_text(json.dumps(broken("x-numbers", ["+15550100008", "+15550100009"])))
    found = check_paths(sorted(tmp_path.glob("*.json")), speech_problems)
    problems = {(Path(p.file).name, p.pointer): p.message for p in found}
    assert "invalid JSON at line 3 column 18" in problems["syntax.json", ""]
    assert "duplicate key '1'" in problems["dup.json", "/properties/k/x-dtmf/choices/1"]
    assert "form id 'bad name'" in problems["bad name.json", ""]
    assert problems["second.json", "/x-numbers/1"] == "+15550100009 already belongs to form 'first'"
    assert len(problems) == 5  # dup.json: also 'b' has no digit


def test_load_forms_raises_with_every_problem(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps(broken("required", ["nope"])))
    (tmp_path / "two.json").write_text("[]")
    with pytest.raises(FormError) as caught:
        load_forms(tmp_path)
    assert [(Path(p.file).name, p.pointer) for p in caught.value.problems] == [("one.json", "/required/0"),
                                                                               ("two.json", "")]
    with pytest.raises(ConfigError, match=f"forms folder {tmp_path / 'missing'} does not exist"):
        load_forms(tmp_path / "missing")
    with pytest.raises(FormError):
        load_form(tmp_path / "two.json")


def test_check_document_never_raises_on_garbage() -> None:
    for document in [None, 3, "x", {"type": "object", "properties": 5}, {"type": "object", "properties": {"a": 5}},
                     {"type": "object", "properties": {"a": {"x-dtmf": {"choices": 3}, "enum": 4}}},
                     {"type": "object", "properties": {"a": {"type": "integer", "x-dtmf": {"max_digits": "2"}}}},
                     {"properties": {"a": {"$ref": 7}}, "x-voice": [], "x-dtmf": "x", "x-numbers": {}}]:
        assert check_document(document, "g.json")


# ---- compiling ------------------------------------------------------------------------------------------


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_ai_arguments_for_the_survey(forms: dict[str, Form]) -> None:
    arguments = ai_gather_arguments(forms["customer_satisfaction"])
    parameters = arguments.pop("parameters")
    assert arguments == {
        "send_partial_results": True,
        "send_message_history_updates": True,
        "greeting": "Hello! Thanks for shopping with us. Do you have a minute for three quick questions about "
                    "your recent purchase?",
        "voice": "Telnyx.KokoroTTS.af",
        "language": "en",
        "gather_ended_speech": "Thank you, that's very helpful.",
        "user_response_timeout_ms": 10000,
        "transcription": {"model": "deepgram/flux", "language": "en"},  # a model that understands English
    }
    assert not [k for k in _keys(parameters) if k.startswith(("x-", "$"))]
    assert parameters["type"] == "object" and parameters["required"] == ["nps", "satisfaction"]
    assert parameters["description"].startswith("A short phone survey")
    # the conditionals go as written; optional questions that no answer makes required may be declined
    assert list(parameters["properties"]) == ["nps", "satisfaction", "would_recommend", "comment",
                                              "declined_questions"]
    assert parameters["if"] == {"properties": {"nps": {"maximum": 6}}, "required": ["nps"]}
    assert list(parameters["then"]["properties"]) == ["improve_first", "topics"]
    assert parameters["then"]["required"] == ["improve_first"]
    assert parameters["properties"]["declined_questions"]["items"]["enum"] == ["would_recommend", "comment", "topics"]
    nps = parameters["properties"]["nps"]
    assert (nps["type"], nps["minimum"], nps["maximum"]) == ("integer", 0, 10) and "description" in nps
    assert parameters["properties"]["satisfaction"]["enum"][0] == "very_satisfied"
    assert parameters["then"]["properties"]["topics"]["items"]["enum"] == [
        "price", "quality", "delivery", "support", "website"]
    assert parameters["properties"]["would_recommend"]["type"] == "boolean"
    Draft202012Validator.check_schema(parameters)


def test_ai_arguments_for_the_intake(forms: dict[str, Form]) -> None:
    form = forms["appointment_intake"]
    arguments = ai_gather_arguments(form)
    parameters = arguments["parameters"]
    assert not [k for k in _keys(parameters) if k.startswith(("x-", "$"))]
    assert parameters["required"] == ["full_name", "date_of_birth", "visit_reason", "preferred_slot"]
    slot = parameters["properties"]["preferred_slot"]
    assert slot["type"] == "object" and slot["required"] == ["date", "period"]
    assert slot["properties"]["date"]["format"] == "date"
    assert slot["properties"]["period"]["enum"] == ["morning", "afternoon"]
    assert parameters["properties"]["date_of_birth"]["format"] == "date"
    assert parameters["properties"]["callback_number"]["pattern"] == "^[0-9]{10}$"
    assert parameters["properties"]["visit_reason"]["enum"] == ["checkup", "follow-up", "new-symptoms", "vaccination"]
    assert (arguments["voice"], arguments["language"]) == ("Telnyx.KokoroTTS.af", "en")
    assert arguments["greeting"].startswith("Hello, you've reached the appointment line")
    assert "gather_ended_speech" not in arguments and "client_state" not in arguments
    assert form.document["properties"]["visit_reason"]["x-dtmf"]  # compiling left the form untouched


DECLINING = {"type": "array", "uniqueItems": True,
             "description": "The optional questions the caller said they would rather not answer, by name. Leave it "
                            "empty otherwise; never list a question the caller answered."}


def test_ai_parameters_inline_refs_and_keep_x_named_properties() -> None:
    document = broken("$defs", {"score": {"type": "integer", "minimum": 0, "x-prompt": "Score?"}}) | {
        "properties": {"score": {"$ref": "#/$defs/score", "maximum": 5}, "x-ray": {"type": "boolean"}},
    }
    parameters = ai_gather_arguments(parse_form(document, "refs"))["parameters"]
    assert parameters["properties"] == {
        "score": {"type": "integer", "minimum": 0, "maximum": 5}, "x-ray": {"type": "boolean"},
        "declined_questions": {**DECLINING, "items": {"enum": ["x-ray"]}}}
    assert "$defs" not in parameters and "$schema" not in parameters


def test_intake_speak_arguments(forms: dict[str, Form]) -> None:
    form = forms["appointment_intake"]
    reason = speak_gather_arguments(form, form.field("visit_reason"), intro=True)
    assert reason["payload"] == (
        "I'll ask the remaining questions on your keypad. To skip a question you would rather not answer, press "
        "star. What is the reason for the visit? Press 1 for checkup. Press 2 for follow up. Press 3 for new "
        "symptoms. Press 4 for vaccination.")
    assert (reason["valid_digits"], reason["minimum_digits"], reason["maximum_digits"]) == ("1234", 1, 1)
    phone = speak_gather_arguments(form, form.field("callback_number"))
    assert phone["payload"].endswith("Enter 10 digits, then press pound.")
    assert (phone["minimum_digits"], phone["maximum_digits"], phone["terminating_digit"]) == (10, 10, "#")
    assert speak_gather_arguments(form, form.field("new_patient"))["valid_digits"] == "12"
    assert speak_gather_arguments(form, form.field("preferred_slot.period"))["payload"].endswith(
        "Press 1 for morning. Press 2 for afternoon.")


# ---- the real SDK against a recording server ------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Record each request and answer like Telnyx does to a call action."""

    requests: list[tuple[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.requests.append((self.path, json.loads(body)))
        answer = b'{"data":{"result":"ok"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def telnyx_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.requests = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_the_sdk_accepts_the_compiled_arguments(telnyx_url: str, forms: dict[str, Form]) -> None:
    ai_request, speak_request = REQUESTS["gather_using_ai"]["request"], REQUESTS["gather_using_speak"]["request"]
    ai_adapter = pydantic.TypeAdapter(ActionGatherUsingAIParams)
    speak_adapter = pydantic.TypeAdapter(ActionGatherUsingSpeakParams)
    async with telnyx.AsyncTelnyx(api_key="KEY_test", base_url=telnyx_url, max_retries=0) as client:
        for form in forms.values():
            await client.calls.actions.gather_using_ai("v3:call", **ai_gather_arguments(form))
            path, body = Recorder.requests.pop()
            assert path == "/calls/v3:call/actions/gather_using_ai"
            assert body == json.loads(json.dumps(ai_gather_arguments(form)))
            Draft202012Validator(ai_request).validate(body)
            ai_adapter.validate_python(body)
            for field in form.fields:
                if field.keypad is None:
                    continue
                arguments = speak_gather_arguments(form, field, intro=field is form.fields[0])
                await client.calls.actions.gather_using_speak("v3:call", **arguments)
                path, body = Recorder.requests.pop()
                assert path == "/calls/v3:call/actions/gather_using_speak" and body == arguments
                Draft202012Validator(speak_request).validate(body)
                speak_adapter.validate_python(body)


def test_the_sdk_literals_reject_what_the_check_rejects() -> None:
    adapter = pydantic.TypeAdapter(ActionGatherUsingAIParams)
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python({"parameters": {}, "language": "en-US"})
    assert check_document(broken("x-voice", {"language": "en-US"}), "f.json", speech_problems)


# ---- answers --------------------------------------------------------------------------------------------

GOOD_INTAKE = {
    "full_name": "Ada Lovelace",
    "date_of_birth": "1815-12-10",
    "visit_reason": "follow-up",
    "preferred_slot": {"date": "2026-09-01", "period": "morning"},
    "callback_number": "5550100123",
    "new_patient": False,
    "unrelated": "ignored",
}


def test_validate_answers_accepts_a_good_result(forms: dict[str, Form]) -> None:
    valid, errors = validate_answers(forms["appointment_intake"], GOOD_INTAKE)
    assert errors == {}
    assert valid == {
        "full_name": "Ada Lovelace", "date_of_birth": "1815-12-10", "visit_reason": "follow-up",
        "preferred_slot.date": "2026-09-01", "preferred_slot.period": "morning",
        "callback_number": "5550100123", "new_patient": False}


@pytest.mark.parametrize(
    ("change", "name", "fragment"),
    [
        ({"date_of_birth": "1815-02-30"}, "date_of_birth", "is not a 'date'"),
        ({"date_of_birth": "10 December 1815"}, "date_of_birth", "is not a 'date'"),
        ({"callback_number": "555-010-0123"}, "callback_number", "does not match"),
        ({"visit_reason": "surgery"}, "visit_reason", "is not one of"),
        ({"new_patient": "yes"}, "new_patient", "is not of type 'boolean'"),
        ({"preferred_slot": {"date": "2026-09-01", "period": "evening"}}, "preferred_slot.period", "is not one of"),
        ({"preferred_slot": {"date": "tomorrow", "period": "morning"}}, "preferred_slot.date", "is not a 'date'"),
        ({"full_name": "A"}, "full_name", "is too short"),
    ],
)
def test_validate_answers_reports_bad_leaves(forms: dict[str, Form], change: dict[str, Any], name: str,
                                             fragment: str) -> None:
    valid, errors = validate_answers(forms["appointment_intake"], {**GOOD_INTAKE, **change})
    assert list(errors) == [name] and fragment in errors[name]
    assert name not in valid and len(valid) == 6


def test_validate_answers_reports_missing_required(forms: dict[str, Form]) -> None:
    intake = forms["appointment_intake"]
    valid, errors = validate_answers(intake, {"full_name": "Ada Lovelace", "preferred_slot": {"period": "morning"}})
    assert errors == {"date_of_birth": "required", "visit_reason": "required", "preferred_slot.date": "required"}
    assert valid == {"full_name": "Ada Lovelace", "preferred_slot.period": "morning"}
    _, errors = validate_answers(intake, {})
    assert set(errors) == {f.name for f in intake.fields if f.required}
    _, errors = validate_answers(intake, {**GOOD_INTAKE, "preferred_slot": "tomorrow morning"})
    assert errors == {"preferred_slot.date": "required", "preferred_slot.period": "required"}


def test_validate_answers_treats_null_as_not_answered(forms: dict[str, Form]) -> None:
    survey = forms["customer_satisfaction"]
    valid, errors = validate_answers(survey, {"nps": 9, "satisfaction": None, "comment": None, "topics": ["price"]})
    assert valid == {"nps": 9, "topics": ["price"]} and errors == {"satisfaction": "required"}
    _, errors = validate_answers(survey, {"nps": 11, "satisfaction": "happy", "topics": ["price", "price"]})
    assert set(errors) == {"nps", "satisfaction", "topics"} and "non-unique" in errors["topics"]


def test_validate_field_checks_formats(forms: dict[str, Form]) -> None:
    field = forms["appointment_intake"].field("preferred_slot.date")
    assert validate_field(field, "2026-02-28") is None
    assert "is not a 'date'" in str(validate_field(field, "2026-02-29"))


def test_flatten_and_nest(forms: dict[str, Form]) -> None:
    flat = flatten(forms["appointment_intake"], GOOD_INTAKE)
    assert flat["preferred_slot.date"] == "2026-09-01" and "unrelated" not in flat
    assert nest(flat) == {k: v for k, v in GOOD_INTAKE.items() if k != "unrelated"}
    assert flatten(forms["appointment_intake"], {"preferred_slot": "soon"}) == {}
    with pytest.raises(ValueError):
        nest({"a": 1, "a.b": 2})


def test_validate_answers_of_a_null_result(forms: dict[str, Form]) -> None:
    valid, errors = validate_answers(forms["customer_satisfaction"], None)  # type: ignore[arg-type]
    assert valid == {} and errors == {"nps": "required", "satisfaction": "required"}
