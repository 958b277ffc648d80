"""End to end over real HTTP: the simulator rings the app, the app drives the call through the real SDK.

Each test asserts what a user would see: the stored response (status, answers and their sources) and the
exact commands the fake Telnyx accepted, in order, each once. The conversation does not depend on the
database (the write path is tested on both in test_intake, test_odd_values, test_crash, test_scale_out), so
these run on SQLite; the same calls, as a user writes them, are the scenario files in forms/scenarios/.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.simulator import AIStep, Delivery, Scenario
from survey_bot.simulator.examples import (
    ai_fills_everything,
    ai_invalid_keypad_completes,
    caller_hangs_up_midway,
    one_answer_breaks_schema,
)
from survey_bot.storage import sealing
from survey_bot.storage.models import Command, WebhookEvent
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
ADMIN = "test-admin-token"


@pytest.fixture
async def stack(sqlite_url: str) -> AsyncIterator[Stack]:
    async with running_stack(sqlite_url, {"forms_dir": FORMS, "admin_token": ADMIN}) as running:
        yield running


def actions(stack: Stack, call_control_id: str | None = None) -> list[str]:
    return [r.action for r in stack.fake.accepted(call_control_id)]


def assert_each_command_once(stack: Stack) -> None:
    accepted = Counter(r.command_id for r in stack.fake.accepted())
    assert all(count == 1 for count in accepted.values()), accepted


async def play(stack: Stack, scenario: Scenario) -> Any:
    call_id = stack.fake.start_call(scenario)
    await stack.fake.wait_call_done(call_id, timeout=30)
    await stack.settle()
    response = await stack.response_for_call(call_id)
    assert response is not None
    return call_id, response


async def test_ai_fills_everything(stack: Stack) -> None:
    call_id, response = await play(stack, ai_fills_everything())
    assert response.status == "completed"
    assert response.answers == {"nps": 9, "satisfaction": "very_satisfied", "would_recommend": True,
                                "topics": ["delivery"], "comment": "Parcel came a day late, otherwise great."}
    assert set(response.sources.values()) == {"ai"}
    assert len(response.message_history) == 6
    assert actions(stack, call_id) == ["answer", "gather_using_ai", "hangup"]
    ai_body = stack.fake.accepted(call_id)[1].body
    assert ai_body["send_partial_results"] is True and ai_body["send_message_history_updates"] is True
    assert "x-dtmf" not in json.dumps(ai_body["parameters"])
    assert_each_command_once(stack)


async def test_ai_invalid_then_keypad_completes(stack: Stack) -> None:
    call_id, response = await play(stack, ai_invalid_keypad_completes())
    assert response.status == "completed"
    assert response.answers == {"nps": 7, "satisfaction": "satisfied", "would_recommend": True}
    assert set(response.sources.values()) == {"dtmf"}
    assert actions(stack, call_id) == ["answer", "gather_using_ai", "gather_using_speak", "gather_using_speak",
                                       "gather_using_speak", "speak", "hangup"]
    asked = [r.body["payload"] for r in stack.fake.accepted(call_id) if r.action == "gather_using_speak"]
    assert "0 to 10" in asked[0] and "Press 1" in asked[1]
    assert_each_command_once(stack)


async def test_only_the_field_that_breaks_the_schema_is_reasked(stack: Stack) -> None:
    call_id, response = await play(stack, one_answer_breaks_schema())
    assert response.status == "completed"
    assert sealing.open_answers(response.answers)["date_of_birth"] == "1984-02-20"  # stored encrypted
    assert response.sources["date_of_birth"] == "dtmf"
    assert response.answers["preferred_slot.date"] == "2026-12-03"
    assert {k: v for k, v in response.sources.items() if k != "date_of_birth"} == dict.fromkeys(
        ["full_name", "visit_reason", "preferred_slot.date", "preferred_slot.period", "callback_number",
         "new_patient"], "ai")
    speaks = [r for r in stack.fake.accepted(call_id) if r.action == "gather_using_speak"]
    assert len(speaks) == 2 and speaks[0].body["maximum_digits"] == 8  # the date, then its read-back
    assert speaks[1].body["payload"] == ("You entered February 20, 1984. Press 1 if that is right, 2 to enter "
                                         "it again.") and speaks[1].body["valid_digits"] == "12"
    assert_each_command_once(stack)


async def test_caller_hangs_up_midway_keeps_every_answer(stack: Stack) -> None:
    call_id, response = await play(stack, caller_hangs_up_midway())
    assert response.status == "abandoned"
    assert response.hangup_cause == "normal_clearing"
    assert response.answers == {"full_name": "Kenji Sato", "visit_reason": "checkup"}
    assert set(response.sources.values()) == {"ai_partial"}
    assert actions(stack, call_id) == ["answer", "gather_using_ai"]  # nothing after the hang-up


async def test_every_event_delivered_twice_and_shuffled_changes_nothing(stack: Stack) -> None:
    reference_call, reference = await play(stack, one_answer_breaks_schema())
    noisy = one_answer_breaks_schema()
    noisy.delivery = Delivery(duplicate_every=True, reorder_window=3, seed=7)
    call_id, response = await play(stack, noisy)
    assert response.status == reference.status == "completed"
    assert sealing.open_answers(response.answers) == sealing.open_answers(reference.answers)
    assert response.sources == reference.sources
    assert actions(stack, call_id) == actions(stack, reference_call)
    assert_each_command_once(stack)
    async with state(stack.app).sessions() as session:
        events = (await session.scalars(select(WebhookEvent).where(WebhookEvent.call_control_id == call_id))).all()
    emitted = {e["data"]["id"] for e in stack.fake.events_emitted(call_id)}
    assert {e.id for e in events} == emitted  # each recorded once, none lost


async def test_outbound_call_through_the_api(stack: Stack) -> None:
    scenario = Scenario(direction="outgoing", to_number="+15558880001", ai_steps=ai_fills_everything().ai_steps)
    stack.fake.expect_dial(scenario)
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        created = await client.post("/api/calls", json={"to": "+15558880001", "form": "customer_satisfaction"},
                                    headers={"Authorization": f"Bearer {ADMIN}"})
    assert created.status_code == 202, created.text
    await stack.fake.wait_idle(20)
    await stack.settle()
    dial = stack.fake.accepted()[0]
    assert dial.action == "dial" and dial.body["to"] == "+15558880001" and dial.body["from"] == "+15550009999"
    response = await stack.response_for_call(dial.call_control_id or "")
    if response is None:  # the dial's answer carries the id; webhooks carry it too
        async with state(stack.app).sessions() as session:
            from survey_bot.storage.models import Response
            response = await session.get(Response, created.json()["response_id"])
    assert response is not None and response.status == "completed" and response.direction == "outgoing"
    assert [a for a in actions(stack) if a != "dial"] == ["gather_using_ai", "hangup"]  # no `answer` outbound


async def test_outbound_call_not_answered_is_recorded(stack: Stack) -> None:
    stack.fake.expect_dial(Scenario(direction="outgoing", to_number="+15558880002", answers=False))
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        created = await client.post("/api/calls", json={"to": "+15558880002", "form": "customer_satisfaction"},
                                    headers={"Authorization": f"Bearer {ADMIN}"})
    await stack.fake.wait_idle(20)
    await stack.settle()
    async with state(stack.app).sessions() as session:
        from survey_bot.storage.models import Response
        response = await session.get(Response, created.json()["response_id"])
    assert response is not None and response.status == "failed" and response.hangup_cause == "no_answer"
    assert actions(stack) == ["dial"]


async def test_inbound_call_to_an_unknown_number_is_rejected(stack: Stack) -> None:
    call_id = stack.fake.start_call(Scenario(to_number="+15550000000"))
    await stack.fake.wait_call_done(call_id, timeout=20)
    await stack.settle()
    assert actions(stack, call_id) == ["reject"]
    async with state(stack.app).sessions() as session:
        event = await session.scalar(select(WebhookEvent).where(WebhookEvent.call_control_id == call_id,
                                                                WebhookEvent.event_type == "call.initiated"))
    assert event is not None and "no form answers +15550000000" in (event.note or "")


@pytest.mark.parametrize("fault", ["429-then-200", "500-three-times"])
async def test_telnyx_failures_lose_nothing_and_send_once(stack: Stack, fault: str) -> None:
    if fault == "429-then-200":
        stack.fake.fail_next(1, 429, retry_after=0.2)
    else:
        stack.fake.fail_next(3, 500)
    call_id, response = await play(stack, ai_fills_everything())
    assert response.status == "completed" and len(response.answers) == 5
    assert actions(stack, call_id) == ["answer", "gather_using_ai", "hangup"]
    assert_each_command_once(stack)


async def test_telnyx_refusing_the_ai_gather_falls_back_to_the_keypad(stack: Stack) -> None:
    stack.fake.fail_next(1, 422, code="10015", action="gather_using_ai")
    call_id = stack.fake.start_call(ai_invalid_keypad_completes())
    await stack.fake.wait_call_done(call_id, timeout=30)
    await stack.settle()
    response = await stack.response_for_call(call_id)
    assert response is not None and response.status == "completed"
    assert response.ai_status == "failed" and response.failures[0]["action"] == "gather_using_ai"
    assert set(response.sources.values()) == {"dtmf"}
    async with state(stack.app).sessions() as session:
        failed = await session.scalar(select(Command).where(Command.action == "gather_using_ai"))
    assert failed is not None and failed.status == "failed" and "422" in (failed.outcome or "")


async def test_partial_result_after_ended_does_not_override_final_answers(stack: Stack) -> None:
    scenario = ai_fills_everything()
    call_id, response = await play(stack, scenario)
    late = _envelope("call.ai_gather.partial_results", call_id, response.id,
                     {"partial_results": {"nps": 2, "satisfaction": "dissatisfied"}},
                     occurred_at="2020-01-01T00:00:00.000000Z")
    status = await _post(stack, late)
    assert status == 200
    after = await stack.response_for_call(call_id)
    assert after is not None and after.answers == response.answers and after.sources == response.sources


def _envelope(event_type: str, call_id: str, response_id: str, payload: dict[str, Any],
              occurred_at: str = "2026-11-23T12:00:00.000000Z", event_id: str | None = None) -> bytes:
    import base64
    import uuid

    client_state = base64.b64encode(json.dumps({"r": response_id}).encode()).decode()
    body = {"data": {"record_type": "event", "event_type": event_type, "id": event_id or str(uuid.uuid4()),
                     "occurred_at": occurred_at,
                     "payload": {"call_control_id": call_id, "client_state": client_state, **payload}},
            "meta": {"attempt": 1, "delivered_to": "http://127.0.0.1/webhooks/telnyx"}}
    return json.dumps(body).encode()


async def _post(stack: Stack, body: bytes, headers: dict[str, str] | None = None) -> int:
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        sent = await client.post("/webhooks/telnyx", content=body,
                                 headers=headers if headers is not None else stack.fake.signer.headers(body))
    return sent.status_code


async def test_unknown_event_type_is_recorded_and_ignored(stack: Stack) -> None:
    body = _envelope("call.ai_gather.failed", "v3:unknown-call", "no-such-response", {"status": "client_error"})
    assert await _post(stack, body) == 200
    async with state(stack.app).sessions() as session:
        events = (await session.scalars(select(WebhookEvent))).all()
    assert [(e.event_type, e.state) for e in events] == [("call.ai_gather.failed", "ignored")]
    assert stack.fake.requests == []


@pytest.mark.parametrize("case", ["missing", "forged", "stale", "malformed-json", "not-utf8", "oversized",
                                  "not-an-envelope"])
async def test_bad_webhooks_get_a_4xx_and_change_nothing(stack: Stack, case: str) -> None:
    import time

    body = _envelope("call.initiated", "v3:x", "r", {"direction": "incoming", "to": "+15550100001"})
    signer = stack.fake.signer
    expected = {"missing": 401, "forged": 401, "stale": 401, "malformed-json": 400, "not-utf8": 400,
                "oversized": 413, "not-an-envelope": 400}[case]
    headers = signer.headers(body)
    if case == "missing":
        headers = {"Content-Type": "application/json"}
    elif case == "forged":
        headers = signer.headers(body.replace(b"+15550100001", b"+15550100002"))
    elif case == "stale":
        headers = signer.headers(body, timestamp=int(time.time()) - 301)
    elif case == "malformed-json":
        body = b'{"data": {"id": "x", '
        headers = signer.headers(body)
    elif case == "not-utf8":
        body = b'{"data": "\xff\xfe"}'
        headers = {"telnyx-signature-ed25519": "AAAA", "telnyx-timestamp": str(int(time.time()))}
    elif case == "oversized":
        body = b'{"pad": "' + b"x" * 300_000 + b'"}'
        headers = signer.headers(body)
    elif case == "not-an-envelope":
        body = b"[1, 2, 3]"
        headers = signer.headers(body)
    assert await _post(stack, body, headers) == expected
    async with state(stack.app).sessions() as session:
        assert (await session.scalars(select(WebhookEvent))).all() == []
    assert stack.fake.requests == []


async def test_healthz_reports_the_database(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        health = await client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok"}


def test_scenario_steps_are_cumulative() -> None:
    steps = caller_hangs_up_midway().ai_steps
    assert all(isinstance(s, AIStep) for s in steps)
    assert set(steps[0].partial_results) <= set(steps[1].partial_results)


async def test_insecure_mode_accepts_unsigned_webhooks_and_warns_each_time(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_stack(sqlite_url, {"forms_dir": FORMS, "insecure_skip_verify": True,
                                            "telnyx_public_key": ""}) as insecure:
        body = _envelope("call.speak.started", "v3:nobody", "none", {})
        with caplog.at_level("WARNING"):
            assert await _post(insecure, body, headers={"Content-Type": "application/json"}) == 200
            assert await _post(insecure, body.replace(b"nobody", b"else"), headers={}) == 200
    warnings = [r for r in caplog.records if "WITHOUT signature verification" in r.getMessage()]
    assert len(warnings) == 2


async def test_survey_bot_call_places_an_outbound_call_through_the_sdk(stack: Stack, sqlite_url: str) -> None:
    import os
    import sys

    stack.fake.expect_dial(Scenario(direction="outgoing", to_number="+15558880003",
                                    ai_steps=ai_fills_everything().ai_steps))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SURVEY_BOT_", "TELNYX_")) or k == "SURVEY_BOT_DATA_KEY"}  # (the tests' key)
    env.update({"SURVEY_BOT_DATABASE_URL": sqlite_url, "SURVEY_BOT_FORMS_DIR": str(FORMS),
                "TELNYX_BASE_URL": stack.telnyx_url, "TELNYX_API_KEY": "KEY_cli",
                "TELNYX_CONNECTION_ID": stack.fake.connection_id, "SURVEY_BOT_FROM_NUMBER": "+15550009999"})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "survey_bot", "call", "+15558880003", "--form", "customer_satisfaction",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert b"dial to +15558880003 for form customer_satisfaction: sent" in out
    await stack.fake.wait_idle(20)
    await stack.settle()
    dial = stack.fake.accepted()[0]
    response = await stack.response_for_call(dial.call_control_id or "")
    assert response is not None and response.status == "completed" and len(response.answers) == 5
