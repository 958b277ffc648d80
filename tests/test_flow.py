"""The conversation's decisions as plain functions: events in, state and commands out (no I/O)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from survey_bot.flow.decide import next_commands
from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState
from survey_bot.forms.load import load_forms
from survey_bot.forms.model import Form
from survey_bot.telephony.arguments import telnyx_request
from survey_bot.telephony.envelope import decode_client_state, encode_client_state, parse_event

FORMS = load_forms(Path(__file__).resolve().parent.parent / "forms")
SURVEY: Form = FORMS["customer_satisfaction"]
CLINIC: Form = FORMS["appointment_intake"]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def event(event_type: str, payload: dict[str, Any] | None = None, *, at: str = "2026-11-23T12:00:00Z",
          client_state: dict[str, Any] | None = None, event_id: str = "e1") -> Event:
    payload = dict(payload or {})
    if client_state is not None:
        payload["client_state"] = encode_client_state(client_state)
    body = {"data": {"id": event_id, "event_type": event_type, "occurred_at": at, "payload": payload}}
    return parse_event(json.dumps(body))


def fresh(direction: str = "incoming") -> CallState:
    return CallState(response_id="r1", direction=direction)


def test_inbound_call_is_answered_naming_the_response() -> None:
    decision = next_commands(event("call.initiated", {"direction": "incoming"}), fresh(), SURVEY, NOW)
    [answer] = decision.commands
    assert answer.action == "answer" and answer.context == {"r": "r1"}
    action, arguments = telnyx_request(answer, SURVEY)  # as Telnyx receives it: the context as client_state
    assert action == "answer" and decode_client_state(arguments["client_state"]) == {"r": "r1"}


def test_outbound_initiated_issues_nothing_and_answered_starts_the_ai() -> None:
    state = next_commands(event("call.initiated", {"direction": "outgoing"}), fresh("outgoing"), SURVEY, NOW)
    assert state.commands == []
    decision = next_commands(event("call.answered"), state.state, SURVEY, NOW)
    [gather] = decision.commands
    assert gather.action == "ask_ai" and gather.step == "ai"
    action, arguments = telnyx_request(gather, SURVEY)
    assert action == "gather_using_ai" and arguments["parameters"]["required"] == ["nps", "satisfaction"]
    assert decision.state.answered_at is not None


def test_partials_merge_keep_earlier_fields_and_skip_invalid_values() -> None:
    state = fresh()
    state = next_commands(event("call.ai_gather.partial_results", {"partial_results": {"nps": 9}},
                                at="2026-11-23T12:00:01Z"), state, SURVEY, NOW).state
    state = next_commands(event("call.ai_gather.partial_results",
                                {"partial_results": {"satisfaction": "satisfied", "nps": 42}},
                                at="2026-11-23T12:00:02Z"), state, SURVEY, NOW).state
    assert state.answers == {"nps": 9, "satisfaction": "satisfied"}  # 42 breaks maximum 10: not kept
    assert state.sources == {"nps": "ai_partial", "satisfaction": "ai_partial"}


def test_an_older_partial_arriving_late_does_not_replace_a_newer_one() -> None:
    state = fresh()
    state = next_commands(event("call.ai_gather.partial_results", {"partial_results": {"nps": 8}},
                                at="2026-11-23T12:00:05Z"), state, SURVEY, NOW).state
    state = next_commands(event("call.ai_gather.partial_results", {"partial_results": {"nps": 3}},
                                at="2026-11-23T12:00:01Z"), state, SURVEY, NOW).state
    assert state.answers["nps"] == 8


def test_transcript_keeps_the_newest_history() -> None:
    newer = [{"role": "assistant", "content": "Q"}, {"role": "user", "content": "A"}]
    state = next_commands(event("call.ai_gather.message_history_updated", {"message_history": newer},
                                at="2026-11-23T12:00:05Z"), fresh(), SURVEY, NOW).state
    state = next_commands(event("call.ai_gather.message_history_updated", {"message_history": newer[:1]},
                                at="2026-11-23T12:00:01Z"), state, SURVEY, NOW).state
    assert state.message_history == newer


def test_valid_ai_result_with_one_bad_field_queues_only_keypad_fields_in_form_order() -> None:
    result = {"nps": 9, "satisfaction": "meh", "comment": "ok"}
    decision = next_commands(event("call.ai_gather.ended", {"status": "valid", "result": result}),
                             fresh(), SURVEY, NOW)
    state = decision.state
    assert state.answers == {"nps": 9, "comment": "ok"} and state.sources["nps"] == "ai"
    assert state.keypad_queue == ["satisfaction", "would_recommend"]  # topics/comment have no keypad
    [gather] = decision.commands
    assert gather.action == "ask_keypad" and gather.step == "keypad:satisfaction:1"
    action, arguments = telnyx_request(gather, SURVEY)
    assert action == "gather_using_speak" and arguments["valid_digits"] == "12345"
    assert decode_client_state(arguments["client_state"]) == {"r": "r1", "s": "keypad", "f": "satisfaction", "n": 1}
    assert state.status == "in_progress"


def test_invalid_ai_result_reasks_the_voice_only_field_then_sends_every_unanswered_keypad_field() -> None:
    decision = next_commands(event("call.ai_gather.ended", {"status": "invalid", "result": None}), fresh(),
                             CLINIC, NOW)
    [reask] = decision.commands  # the name has no keypad: the AI asks for it once more, and only for it
    assert reask.action == "ask_ai" and reask.step == "ai:reask:1" and decision.state.keypad_queue is None
    action, arguments = telnyx_request(reask, CLINIC)
    assert action == "gather_using_ai" and list(arguments["parameters"]["properties"]) == ["full_name"]
    assert arguments["parameters"]["required"] == ["full_name"]
    assert arguments["greeting"] == "Sorry, I didn't catch your full name. Could you say it again?"
    ended = event("call.ai_gather.ended", {"status": "invalid", "result": None}, event_id="e2",
                  client_state={"r": "r1", "s": "reask", "n": 1})
    decision = next_commands(ended, decision.state, CLINIC, NOW)
    # visit_reason is unanswered, so the symptoms question (asked only for new symptoms) is not in the queue
    assert decision.state.keypad_queue == ["date_of_birth", "visit_reason", "preferred_slot.date",
                                           "preferred_slot.period", "callback_number", "new_patient"]
    assert decision.commands[0].step == "keypad:date_of_birth:1"


def keypad_answer(state: CallState, field: str, digits: str, status: str = "valid", n: int = 1,
                  event_id: str = "g") -> Any:
    return next_commands(event("call.gather.ended", {"status": status, "digits": digits}, event_id=event_id,
                               client_state={"r": "r1", "s": "keypad", "f": field, "n": n}), state, SURVEY, NOW)


def test_keypad_answers_then_closing_words_then_hangup() -> None:
    state = next_commands(event("call.ai_gather.ended", {"status": "valid", "result": {"nps": 9}}), fresh(),
                          SURVEY, NOW).state
    decision = keypad_answer(state, "satisfaction", "2")
    assert decision.state.answers["satisfaction"] == "satisfied" and decision.state.sources["satisfaction"] == "dtmf"
    assert decision.commands[0].step == "keypad:would_recommend:1"
    decision = keypad_answer(decision.state, "would_recommend", "", status="timeout")
    assert "would_recommend" not in decision.state.answers
    [speak] = decision.commands
    assert speak.action == "speak" and telnyx_request(speak, SURVEY)[1]["payload"] == SURVEY.dtmf["closing"]
    assert decision.state.status == "completed"  # every required field answered; the optional one is not
    closing = event("call.speak.ended", {"status": "completed"}, client_state={"r": "r1", "s": "closing"})
    [hangup] = next_commands(closing, decision.state, SURVEY, NOW).commands
    assert hangup.action == "hangup"


def test_digits_that_do_not_fit_are_asked_again_then_given_up() -> None:
    state = next_commands(event("call.ai_gather.ended", {"status": "invalid"}), fresh(), SURVEY, NOW).state
    decision = keypad_answer(state, "nps", "42#")
    assert decision.commands[0].step == "keypad:nps:2"
    assert "Sorry" in telnyx_request(decision.commands[0], SURVEY)[1]["payload"]
    assert decision.state.keypad_attempts[0]["error"]
    decision = keypad_answer(decision.state, "nps", "55#", n=2, event_id="g2")
    decision = keypad_answer(decision.state, "nps", "77#", n=3, event_id="g3")
    assert decision.commands[0].step == "keypad:satisfaction:1"  # three tries used: move on
    assert "nps" not in decision.state.answers


def test_a_duplicate_or_stale_gather_result_is_ignored() -> None:
    state = next_commands(event("call.ai_gather.ended", {"status": "invalid"}), fresh(), SURVEY, NOW).state
    first = keypad_answer(state, "nps", "7#")
    again = keypad_answer(first.state, "nps", "7#")
    assert again.commands == [] and again.state.keypad_attempts == first.state.keypad_attempts


def test_hangup_keeps_answers_marks_abandoned_and_silences_commands() -> None:
    state = next_commands(event("call.ai_gather.partial_results", {"partial_results": {"nps": 4}}), fresh(),
                          SURVEY, NOW).state
    hung = next_commands(event("call.hangup", {"hangup_cause": "normal_clearing", "hangup_source": "caller"}),
                         state, SURVEY, NOW).state
    assert hung.status == "abandoned" and hung.answers == {"nps": 4} and hung.hangup_cause == "normal_clearing"
    late = next_commands(event("call.ai_gather.ended", {"status": "valid", "result": {"nps": 4}}), hung, SURVEY, NOW)
    assert late.commands == [] and late.state.sources["nps"] == "ai" and late.state.status == "abandoned"


def test_outbound_call_never_answered_is_failed() -> None:
    state = next_commands(event("call.hangup", {"hangup_cause": "no_answer"}), fresh("outgoing"), SURVEY, NOW).state
    assert state.status == "failed" and state.hangup_cause == "no_answer"


def test_ai_command_refused_falls_back_to_keypad() -> None:
    failed = event("survey_bot.command_failed", {"action": "gather_using_ai", "step": "ai", "status_code": 422,
                                                 "code": "10015"}, client_state={"r": "r1"})
    decision = next_commands(failed, fresh(), SURVEY, NOW)
    assert decision.state.ai_status == "failed" and decision.commands[0].action == "ask_keypad"
    ended = event("survey_bot.command_failed", {"action": "hangup", "step": "hangup", "code": "90018"},
                  client_state={"r": "r1"})
    assert next_commands(ended, fresh(), SURVEY, NOW).commands == []


def test_unknown_event_types_change_nothing() -> None:
    state = fresh()
    decision = next_commands(event("call.ai_gather.failed", {"status": "client_error"}), state, SURVEY, NOW)
    assert decision.commands == [] and decision.state == state


@pytest.mark.parametrize("raw, message", [
    ("{", "not valid JSON"),
    ("[]", "no `data` object"),
    ('{"data": {"event_type": "x"}}', "data.id"),
    ('{"data": {"id": "e", "event_type": 5}}', "event_type"),
    ('{"data": {"id": "e", "event_type": "x", "payload": []}}', "payload"),
])
def test_parse_event_says_what_is_wrong(raw: str, message: str) -> None:
    from survey_bot.errors import PayloadError

    with pytest.raises(PayloadError, match=message):
        parse_event(raw)


def test_foreign_or_corrupt_client_state_decodes_to_nothing() -> None:
    assert decode_client_state("not base64!") == {}
    assert decode_client_state(base64.b64encode(b"[1]").decode()) == {}
    assert decode_client_state(None) == {}
    assert decode_client_state(base64.b64encode(b'{"r": ' + b"[" * 5000 + b"]" * 5000 + b"}").decode()) == {}
    assert decode_client_state(base64.b64encode(b'{"r": "\xff"}').decode()) == {}  # not UTF-8
