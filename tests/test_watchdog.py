"""The watchdog, on SQLite and PostgreSQL, with the real SDK against the simulator (which drops webhooks on
purpose and answers GET /calls/{id}): a call whose awaited webhook never comes is checked with Telnyx; gone,
its response ends with cause `lost`; alive, its step is issued again once, then the call is closed; two
workers sweeping at once act once. Sweeps are run with a clock ten minutes ahead instead of waiting."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from survey_bot.flow.decide import next_commands
from survey_bot.flow.state import CallState
from survey_bot.forms.load import load_forms
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.simulator.scenario import AIStep, Delivery, Scenario
from survey_bot.storage.models import Command, WebhookEvent
from survey_bot.telephony.envelope import encode_client_state, parse_event
from survey_bot.utc import now as utc_now
from survey_bot.web.app import create_app
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
SETTINGS = {"forms_dir": FORMS, "admin_token": "watchdog-test-admin-token", "dispatcher": "inline"}
LATER = timedelta(minutes=10)


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, SETTINGS) as running:
        yield running


def silent_caller(drop: set[str], **extra: Any) -> Scenario:
    """A survey caller who says a score; then the AI's end (and whatever else `drop` names) never arrives."""
    steps = [AIStep({"nps": 4}, "How likely are you to recommend us, from 0 to 10?", "Four.")]
    return Scenario(from_number="+15557770042", to_number="+15550100001", ai_steps=steps,
                    delivery=Delivery(drop=frozenset(drop)), **extra)


async def until(check: Any, timeout: float = 15.0) -> Any:
    """Poll `check()` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def started(stack: Stack, scenario: Scenario) -> str:
    call_id = stack.fake.start_call(scenario)
    await until(lambda: _has_partial(stack, call_id))
    await stack.settle()
    return call_id


async def _has_partial(stack: Stack, call_id: str) -> bool:
    response = await stack.response_for_call(call_id)
    return response is not None and "nps" in response.answers


async def sweep(stack: Stack) -> int:
    watchdog = state(stack.app).watchdog
    assert watchdog is not None
    handed = await watchdog.sweep(utc_now() + LATER)
    await stack.settle()
    return handed


async def test_a_call_gone_without_its_webhooks_ends_lost(stack: Stack) -> None:
    call_id = await started(stack, silent_caller({"call.ai_gather.ended", "call.hangup"}, hangup="during_ai"))
    assert stack.fake.call_state(call_id) == "hangup"
    response = await stack.response_for_call(call_id)
    assert response is not None and response.status == "in_progress"  # nothing told survey-bot
    assert await state(stack.app).watchdog.silent(utc_now()) == []  # type: ignore[union-attr]  # not silent yet
    assert await sweep(stack) == 1
    response = await stack.response_for_call(call_id)
    assert response is not None
    assert (response.status, response.hangup_cause, response.answers) == ("abandoned", "lost", {"nps": 4})
    assert [(n["awaiting"], n["alive"], n["action"]) for n in response.watchdog] == [("ai", False, "ended")]
    async with state(stack.app).sessions() as db:  # on the timeline
        assert await db.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.response_id == response.id, WebhookEvent.event_type == "survey_bot.watchdog")) == 1
    assert await sweep(stack) == 0  # an ended response is left alone
    scraped = await (await stack.app.test_client().get("/metrics")).get_data(as_text=True)
    assert 'survey_bot_watchdog_actions_total{action="ended_lost"}' in scraped


async def test_a_live_call_gets_its_step_once_more_then_is_closed(stack: Stack) -> None:
    call_id = await started(stack, silent_caller({"call.ai_gather.ended"}))
    asked = [r.action for r in stack.fake.accepted(call_id)]
    assert asked == ["answer", "gather_using_ai"]
    assert await sweep(stack) == 1  # alive: the AI gather again, with a command id of its own
    assert [r.action for r in stack.fake.accepted(call_id)] == ["answer", "gather_using_ai", "gather_using_ai"]
    assert await sweep(stack) == 1  # still nothing: closing words, then the hang-up
    await until(lambda: _ended(stack, call_id))
    assert [r.action for r in stack.fake.accepted(call_id)][3:] == ["speak", "hangup"]
    response = await stack.response_for_call(call_id)
    assert response is not None and response.status == "partial" and response.hangup_cause != "lost"
    assert [n["action"] for n in response.watchdog] == ["reissued", "closing"]
    commands = {r.command_id for r in stack.fake.accepted(call_id)}
    assert len(commands) == 5  # every command sent once, each under its own id


async def _ended(stack: Stack, call_id: str) -> bool:
    response = await stack.response_for_call(call_id)
    return response is not None and response.status != "in_progress"


async def test_two_workers_sweeping_at_once_act_once(stack: Stack, database_url: str) -> None:
    call_id = await started(stack, silent_caller({"call.ai_gather.ended"}))
    other = create_app({**SETTINGS, "database_url": database_url, "telnyx_public_key": stack.fake.signer.public_key_b64,
                        "telnyx_base_url": stack.telnyx_url, "telnyx_api_key": "KEY_simulator"})
    async with other.test_app():
        mine, theirs = state(stack.app).watchdog, state(other).watchdog
        assert mine is not None and theirs is not None
        later = utc_now() + LATER  # both look before either acts: what "at once" means, whatever the machine's load
        looked = await asyncio.gather(mine.silent(later), theirs.silent(later))
        assert [len(found) for found in looked] == [1, 1]
        await asyncio.gather(mine.act(looked[0]), theirs.act(looked[1]))
        await asyncio.sleep(0.5)  # either app's sender may send the re-issued command
        await stack.settle()
    response = await stack.response_for_call(call_id)
    assert response is not None and [n["action"] for n in response.watchdog] == ["reissued"]
    async with state(stack.app).sessions() as db:
        steps = (await db.scalars(select(Command.step).where(Command.response_id == response.id))).all()
    assert sorted(steps) == ["ai", "ai~w1", "answer"]
    assert [r.action for r in stack.fake.accepted(call_id)].count("gather_using_ai") == 2


async def test_a_webhook_arriving_while_telnyx_is_asked_cancels_the_watchdogs_act(stack: Stack) -> None:
    call_id = await started(stack, silent_caller({"call.ai_gather.ended"}))
    watchdog = state(stack.app).watchdog
    assert watchdog is not None
    found = await watchdog.silent(utc_now() + LATER)
    assert [f.call_control_id for f in found] == [call_id]
    late = next(e for e in stack.fake.events_emitted(call_id) if e["data"]["event_type"] == "call.ai_gather.ended")
    body = json.dumps(late).encode()  # Telnyx's retry of the webhook the watchdog was about to give up on
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        assert (await client.post("/webhooks/telnyx", content=body, headers=stack.fake.signer.headers(body))).is_success
    await stack.settle()
    asked = [r.action for r in stack.fake.accepted(call_id)]
    assert await watchdog.act(found) == 1
    await stack.settle()
    assert [r.action for r in stack.fake.accepted(call_id)] == asked  # nothing asked twice
    response = await stack.response_for_call(call_id)
    assert response is not None and response.watchdog == []
    async with state(stack.app).sessions() as db:
        kept = (await db.execute(select(WebhookEvent.state, WebhookEvent.note).where(
            WebhookEvent.event_type == "survey_bot.watchdog"))).all()
    assert [(row.state, "silence is over" in (row.note or "")) for row in kept] == [("ignored", True)]


def test_a_refused_reissue_counts_as_alive_and_moves_nothing() -> None:
    survey = load_forms(FORMS)["customer_satisfaction"]
    asking = CallState(response_id="r1", direction="incoming", current_field="nps", answered_at=utc_now(),
                       watchdog=[{"action": "reissued"}])
    body = {"data": {"id": "f1", "event_type": "survey_bot.command_failed", "payload": {
        "action": "gather_using_speak", "step": "keypad:nps:1~w1", "status_code": 422, "code": "90046",
        "client_state": encode_client_state({"r": "r1"})}}}
    decision = next_commands(parse_event(json.dumps(body)), asking, survey, utc_now())
    assert decision.commands == [] and decision.state.current_field == "nps" and decision.state.keypad_done == []


def test_a_webhook_after_the_watchdog_ended_the_response_is_kept_and_commands_nothing() -> None:
    survey = load_forms(FORMS)["customer_satisfaction"]
    gone = CallState(response_id="r1", direction="incoming", answered_at=utc_now(), answers={"nps": 4},
                     sources={"nps": "ai_partial"})
    ended = next_commands(parse_event(json.dumps({"data": {
        "id": "watchdog:r1:0", "event_type": "survey_bot.watchdog",
        "payload": {"alive": False, "client_state": encode_client_state({"r": "r1"})}}})), gone, survey, utc_now())
    assert (ended.state.status, ended.state.hangup_cause, ended.commands) == ("abandoned", "lost", [])
    late = next_commands(parse_event(json.dumps({"data": {
        "id": "late", "event_type": "call.ai_gather.ended", "payload": {
            "status": "valid", "result": {"nps": 4, "satisfaction": "neutral"},
            "client_state": encode_client_state({"r": "r1", "s": "ai"})}}})), ended.state, survey, utc_now())
    assert late.commands == []  # no keypad question to a call that is gone
    assert late.state.answers == {"nps": 4, "satisfaction": "neutral"} and late.state.sources["nps"] == "ai"
    assert late.state.hangup_cause == "lost"
