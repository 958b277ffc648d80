"""Contact variables as {placeholders} in the opening texts (forms.placeholders): the substitution (cleaned,
capped, SSML-escaped, never evaluated, missing values dropped and the words tidied), `forms check`'s pointers for
malformed ones, survey-bot's own default texts taken literally, and the Telnyx requests the flow's opening
commands become, with a campaign contact's values and without."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from survey_bot.flow.events import Event
from survey_bot.flow.opening import begin, on_disclosure_ended
from survey_bot.flow.state import CallState
from survey_bot.flow.steps import CONTACT
from survey_bot.forms.check import check_document, errors_only
from survey_bot.forms.load import parse_form
from survey_bot.forms.placeholders import MAX_VALUE, fill, placeholder_names, spoken_values
from survey_bot.telephony.arguments import speak_gather_arguments, telnyx_request
from survey_bot.telephony.envelope import decode_client_state

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SURVEY = json.loads((Path(__file__).resolve().parent.parent / "forms" / "customer_satisfaction.json").read_text())
ANN = {"name": "Ann", "plan": "gold"}


# ---- substitution -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "values", "said"), [
    ("Hello {name}, this is Acme.", ANN, "Hello Ann, this is Acme."),
    ("Hello {name}, your {plan} plan.", ANN, "Hello Ann, your gold plan."),
    ("{{name}} is {name}", ANN, "{name} is Ann"),  # doubled braces are braces, not a placeholder
    ("{{{name}}}", ANN, "{Ann}"),
    ("Hi {name}", {"name": "{plan}"}, "Hi {plan}"),  # a value is never read for placeholders itself
    ("Hi {name}", {"name": "{0.__class__}"}, "Hi {0.__class__}"),
    ("Hi {Name}", ANN, "Hi"),  # names are exact: Name is not name
])
def test_fill(text: str, values: dict[str, str], said: str) -> None:
    assert fill(text, values) == said


@pytest.mark.parametrize(("text", "said"), [
    ("Hello {name}, this is Acme.", "Hello, this is Acme."),
    ("{name}, this is Acme.", "this is Acme."),
    ("Hello {name}!", "Hello!"),
    ("Hello {name} and welcome.", "Hello and welcome."),
    ("Hello {first} {last}, hi.", "Hello, hi."),
    ("Thanks {name}, {plan}.", "Thanks."),
    ("<speak>Hello {name}, hi.</speak>", "<speak>Hello, hi.</speak>"),
    ("<speak>{name}, hi.</speak>", "<speak>hi.</speak>"),
    ("No placeholders,  as  written .", "No placeholders,  as  written ."),  # the author's own spacing is kept
])
def test_a_missing_value_is_dropped_and_the_words_tidied(text: str, said: str) -> None:
    assert fill(text, {}) == said
    assert fill(text, {"name": "  \t\n"}) == said  # nothing left once cleaned: missing too


def test_values_are_cleaned_and_capped() -> None:
    assert fill("Hi {name}.", {"name": "  Ann\x00\x07 \u202eMarie\r\n\tSmith  "}) == "Hi Ann Marie Smith."
    long = fill("{name}", {"name": "x" * 500})
    assert long == "x" * MAX_VALUE


def test_ssml_texts_get_escaped_values() -> None:
    injected = '</speak><audio src="https://evil.example/a.mp3"/><speak>'
    said = fill("<speak>Hello {name}.</speak>", {"name": injected})
    assert said == ('<speak>Hello &lt;/speak&gt;&lt;audio src=&quot;https://evil.example/a.mp3&quot;/&gt;'
                    "&lt;speak&gt;.</speak>")
    assert said.count("<") == 2  # the author's two tags, none of the value's
    assert fill("<speak>{name}</speak>", {"name": "A & B's"}) == "<speak>A &amp; B&apos;s</speak>"


def test_a_plain_text_never_becomes_markup() -> None:
    said = fill("{name}, hello.", {"name": '<speak><audio src="x"/></speak>'})
    assert "<" not in said and ">" not in said
    assert fill("Hi {name}.", {"name": "AT&T"}) == "Hi AT&T."  # plain text: said as written


def test_spoken_values_carry_only_what_the_form_names() -> None:
    variables = {"plan": " gold\n", "ssn": "123-45-6789", "empty": ""}
    assert spoken_values("Ann", variables, frozenset({"name", "plan", "empty", "unknown"})) == \
        {"name": "Ann", "plan": "gold"}
    assert spoken_values(None, {"name": "from a column"}, frozenset({"name"})) == {"name": "from a column"}


# ---- forms check --------------------------------------------------------------------------------------------


def _form(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(SURVEY)
    document.update(changes)
    return document


@pytest.mark.parametrize(("greeting", "found"), [
    ("Hello {", "'{' opens a placeholder that is not closed"),
    ("Hello {name", "'{name' opens a placeholder that is not closed"),
    ("Hello name}", "a '}' with no '{' before it"),
    ("Hello {1x}", "'{1x}' is not a placeholder"),
    ("Hello {}", "'{}' is not a placeholder"),
    ("Hello { name }", "'{ name }' is not a placeholder"),
    ("Hello {a.b}", "'{a.b}': placeholders are never evaluated"),
    ("Hello {name.__class__}", "'{name.__class__}': placeholders are never evaluated"),
    ("Hello {name[0]}", "'{name[0]}': placeholders are never evaluated"),
])
def test_forms_check_points_at_a_malformed_placeholder(greeting: str, found: str) -> None:
    document = _form()
    document["x-voice"]["greeting"]["es-US"] = greeting
    problems = errors_only(check_document(document, "f.json"))
    assert [(p.pointer, p.message.startswith(found)) for p in problems] == [("/x-voice/greeting/es-US", True)]


def test_forms_check_reads_every_text_that_takes_placeholders() -> None:
    document = _form(**{"x-disclosure": "Acme calling {name"})
    document["x-dtmf"]["intro"] = "On the keypad, {who}}"
    assert [p.pointer for p in errors_only(check_document(document, "f.json"))] == ["/x-disclosure",
                                                                                   "/x-dtmf/intro"]
    fine = _form(**{"x-disclosure": {"en-US": "Acme calling {name} about {order-id}, {{ref}}",
                                     "es-US": "Acme llama a {name}"}})
    fine["x-dtmf"]["intro"] = {"en-US": "{name}, the keypad", "es-US": "{first_name}, el teclado"}
    assert errors_only(check_document(fine, "f.json")) == []
    assert placeholder_names(fine) == {"name", "order-id", "first_name"}


def test_forms_check_warns_of_a_placeholder_where_none_is_taken() -> None:
    document = _form()
    document["x-dtmf"]["closing"]["en-US"] = "Goodbye {name}."
    problems = check_document(document, "f.json")
    assert [(p.pointer, p.severity) for p in problems] == [("/x-dtmf/closing/en-US", "warning")]
    assert problems[0].message.startswith("{name}: only x-voice.greeting, x-disclosure and x-dtmf.intro take")
    assert parse_form(document, "closing").dtmf["closing"] == "Goodbye {name}."  # loads; said as written


def test_default_texts_are_taken_literally() -> None:
    """A title with braces makes the default greeting, the catalogue the default keypad intro: neither is a
    placeholder text, so a title's braces are said as written."""
    document = _form()
    document["x-title"]["en-US"] = "Survey {2025} {name} }{"
    del document["x-voice"]["greeting"], document["x-dtmf"]["intro"]
    assert errors_only(check_document(document, "f.json")) == []
    form = parse_form(document, "braces")
    assert form.placeholders == frozenset()
    assert form.greeting(ANN) == "Hello! I have a few quick questions for you: Survey {2025} {name} }{."
    assert form.keypad_opening(ANN).startswith("I'll ask the remaining questions on your keypad.")


# ---- the opening commands as Telnyx requests ------------------------------------------------------------------


def _campaign_form() -> Any:
    document = _form(**{"x-disclosure": {"en-US": "This is Acme calling {name} about the {plan} plan.",
                                         "es-US": "Acme llama a {name}."}})
    document["x-voice"]["greeting"]["en-US"] = "<speak>Hello {name}! Three questions.</speak>"
    document["x-dtmf"]["intro"]["en-US"] = "{name}, let's finish on your keypad."
    return parse_form(document, "campaign")


def _opening(values: dict[str, str] | None, locale: str = "en-US") -> dict[str, Any]:
    """The disclosure's request, then the AI's, as a campaign call (or another call: None) opens."""
    form = _campaign_form().for_locale(locale)
    state = CallState("r1", "outgoing", locale=locale, outreach={CONTACT: values} if values else {})
    (disclose,) = begin(state, form, NOW)
    requests = {"disclosure": telnyx_request(disclose, form)}
    event = Event("e1", "call.gather.ended", NOW, {"status": "timeout"}, "{}", {"r": "r1", "s": "disclosure"})
    (ask,) = on_disclosure_ended(event, state, form, NOW)
    requests["ai"] = telnyx_request(ask, form)
    return requests


def test_a_campaign_call_opens_with_the_contacts_words() -> None:
    requests = _opening({"name": "Ann <b>", "plan": "gold"})
    action, arguments = requests["disclosure"]
    assert action == "gather_using_speak"
    assert arguments["payload"].startswith("This is Acme calling Ann b about the gold plan.")  # plain: no markup
    assert "Ann" not in json.dumps(decode_client_state(arguments["client_state"]))  # values never ride along
    action, arguments = requests["ai"]
    assert action == "gather_using_ai"
    assert arguments["greeting"] == "<speak>Hello Ann &lt;b&gt;! Three questions.</speak>"
    assert _opening({"name": "Ana"}, "es-US")["disclosure"][1]["payload"].startswith("Acme llama a Ana.")


def test_a_call_without_a_contact_drops_the_placeholders() -> None:
    requests = _opening(None)
    assert requests["disclosure"][1]["payload"].startswith("This is Acme calling about the plan.")
    assert requests["ai"][1]["greeting"] == "<speak>Hello! Three questions.</speak>"


def test_the_keypad_intro_takes_the_contacts_words() -> None:
    form = _campaign_form()
    field = form.field("satisfaction")
    assert speak_gather_arguments(form, field, intro=True, values={"name": "Ann"})["payload"].startswith(
        "Ann, let's finish on your keypad.")
    assert speak_gather_arguments(form, field, intro=True)["payload"].startswith("let's finish on your keypad.")
