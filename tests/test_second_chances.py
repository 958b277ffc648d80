"""The conversation's second chances as pure decisions: the AI's targeted re-ask (`x-reask`), the keypad's
read-back (`x-confirm`), declining, and the schema the AI is given (`x-voice.conditionals`)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from survey_bot.flow.decide import next_commands
from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Decision
from survey_bot.forms.load import parse_form
from survey_bot.forms.model import Form
from survey_bot.telephony.arguments import ai_gather_arguments, telnyx_request
from survey_bot.telephony.envelope import encode_client_state, parse_event

FORMS = Path(__file__).resolve().parent.parent / "forms"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLINIC = json.loads((FORMS / "appointment_intake.json").read_text())
SURVEY = json.loads((FORMS / "customer_satisfaction.json").read_text())


def form(document: dict[str, Any], **changes: Any) -> Form:
    changed = copy.deepcopy(document)
    for key, value in changes.items():
        changed[key.replace("_", "-")] = value
    return parse_form(changed, "f")


def event(event_type: str, payload: dict[str, Any], client_state: dict[str, Any], n: int = 1) -> Event:
    body = {"data": {"id": f"e{n}", "event_type": event_type, "occurred_at": "2026-12-01T09:00:00Z",
                     "payload": {**payload, "client_state": encode_client_state({"r": "r1", **client_state})}}}
    return parse_event(json.dumps(body))


def ai_ended(state: CallState, the_form: Form, result: dict[str, Any] | None, reask: int = 0) -> Decision:
    status = "valid" if result is not None else "invalid"
    context = {"s": "reask", "n": reask} if reask else {"s": "ai"}
    return next_commands(event("call.ai_gather.ended", {"status": status, "result": result}, context, 10 + reask),
                         state, the_form, NOW)


def keypad(state: CallState, the_form: Form, name: str, digits: str, n: int, kind: str = "keypad") -> Decision:
    return next_commands(event("call.gather.ended", {"status": "valid", "digits": digits},
                               {"s": kind, "f": name, "n": n}, 100 + n + (50 if kind == "confirm" else 0)),
                         state, the_form, NOW)


INTAKE_BUT_NAME = {"date_of_birth": "1980-01-02", "visit_reason": "checkup",
                   "preferred_slot": {"date": "2026-12-09", "period": "morning"}, "callback_number": "5551234567",
                   "new_patient": False}


def test_the_reask_asks_only_for_the_voice_only_field_seeded_with_the_transcript() -> None:
    clinic = form(CLINIC)
    heard = [{"role": "assistant", "content": "Your name?"}, {"role": "user", "content": "…"}]
    state = CallState(response_id="r1", direction="incoming", message_history=heard)
    decision = ai_ended(state, clinic, INTAKE_BUT_NAME)
    [reask] = decision.commands
    action, arguments = telnyx_request(reask, clinic)
    assert action == "gather_using_ai"
    assert arguments["parameters"]["required"] == ["full_name"]
    assert list(arguments["parameters"]["properties"]) == ["full_name"]
    assert arguments["message_history"] == state.message_history  # the caller is not asked from scratch
    done = ai_ended(decision.state, clinic, {"full_name": "Ana Lima"}, reask=1)
    assert done.state.answers["full_name"] == "Ana Lima" and done.state.sources["full_name"] == "ai"
    assert done.state.provenance["full_name"]["attempt"] == "reask 1"
    assert done.state.status == "completed" and [c.action for c in done.commands] == ["hangup"]


def test_an_answer_that_fails_validation_is_reasked_too() -> None:
    clinic = form(CLINIC)
    decision = ai_ended(CallState(response_id="r1", direction="incoming"), clinic,
                        {**INTAKE_BUT_NAME, "full_name": "A"})  # minLength 2
    [reask] = decision.commands
    assert reask.details["fields"] == ["full_name"]


def test_reask_max_0_goes_straight_on_and_the_name_stays_missing() -> None:
    clinic = form(CLINIC, x_reask={"max": 0})
    decision = ai_ended(CallState(response_id="r1", direction="incoming"), clinic, INTAKE_BUT_NAME)
    assert [c.action for c in decision.commands] == ["hangup"]  # nothing the keypad can ask is missing
    assert decision.state.status == "partial"  # the form ran to its end without a required answer


def test_reask_all_asks_keypad_fields_by_voice_first_and_max_2_allows_two() -> None:
    clinic = form(CLINIC, x_reask={"max": 2, "fields": "all"})
    first = ai_ended(CallState(response_id="r1", direction="incoming"), clinic, {"full_name": "Ana Lima"})
    assert first.commands[0].details["fields"] == [
        "date_of_birth", "visit_reason", "preferred_slot.date", "preferred_slot.period"]
    second = ai_ended(first.state, clinic, {"visit_reason": "checkup"}, reask=1)
    assert second.commands[0].step == "ai:reask:2"
    assert second.commands[0].details["fields"] == ["date_of_birth", "preferred_slot.date", "preferred_slot.period"]
    third = ai_ended(second.state, clinic, None, reask=2)
    assert third.commands[0].step == "keypad:date_of_birth:1"  # two re-asks spent: the keypad takes over


def test_a_read_back_2_asks_again_and_counts_against_the_tries() -> None:
    clinic = form(CLINIC)
    state = ai_ended(CallState(response_id="r1", direction="incoming"), clinic,
                     {**INTAKE_BUT_NAME, "full_name": "Ana Lima", "date_of_birth": None}).state
    entered = keypad(state, clinic, "date_of_birth", "19800201#", 1)
    [confirm] = entered.commands
    action, arguments = telnyx_request(confirm, clinic)
    assert action == "gather_using_speak" and arguments["valid_digits"] == "12"
    assert arguments["payload"] == "You entered February 1, 1980. Press 1 if that is right, 2 to enter it again."
    assert "date_of_birth" not in entered.state.answers  # not kept until confirmed
    again = keypad(entered.state, clinic, "date_of_birth", "2", 1, kind="confirm")
    assert again.commands[0].step == "keypad:date_of_birth:2"
    second = keypad(again.state, clinic, "date_of_birth", "19800102#", 2)
    kept = keypad(second.state, clinic, "date_of_birth", "1", 2, kind="confirm")
    assert kept.state.answers["date_of_birth"] == "1980-01-02" and kept.state.sources["date_of_birth"] == "dtmf"
    assert kept.state.provenance["date_of_birth"]["attempt"] == "keypad 2"


def test_x_confirm_false_keeps_a_date_without_reading_it_back() -> None:
    document = copy.deepcopy(CLINIC)
    document["properties"]["date_of_birth"]["x-confirm"] = False
    clinic = parse_form(document, "f")
    state = ai_ended(CallState(response_id="r1", direction="incoming"), clinic,
                     {**INTAKE_BUT_NAME, "full_name": "Ana Lima", "date_of_birth": None}).state
    entered = keypad(state, clinic, "date_of_birth", "19800201#", 1)
    assert entered.state.answers["date_of_birth"] == "1980-02-01"
    assert all(c.action != "confirm" for c in entered.commands)


def test_flatten_sends_every_field_without_conditionals_and_says_when_to_ask() -> None:
    survey = form(SURVEY, x_voice={**SURVEY["x-voice"], "conditionals": "flatten"})
    parameters = ai_gather_arguments(survey)["parameters"]
    assert not {"if", "then", "else", "allOf"} & set(parameters)
    assert list(parameters["properties"]) == ["nps", "satisfaction", "would_recommend", "comment", "improve_first",
                                              "topics", "declined_questions"]
    assert parameters["required"] == ["nps", "satisfaction"]
    assert parameters["properties"]["improve_first"]["description"].endswith(
        "Ask this only when 'Likelihood to recommend' is at most 6. It is then required.")
    kept = ai_gather_arguments(form(SURVEY))["parameters"]
    assert kept["if"] == SURVEY["if"] and "improve_first" in kept["then"]["properties"]
