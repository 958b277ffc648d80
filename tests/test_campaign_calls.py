"""The campaign scheduler end to end over real HTTP, on both databases: `serve` dials due contacts through the
outbox and the real SDK, the fake Telnyx plays each callee, and each call's end comes back through the
webhooks to its attempt and contact: retries by outcome, max attempts, final dispositions, the window, the
do-not-call list checked at dial time, pause and resume, the quota."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from campaign_helpers import (
    add_campaign,
    attempts,
    campaign_status,
    contacts,
    human,
    nobody,
    set_campaign,
    suppress,
    wait_until_finished,
)
from sqlalchemy import func, select

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.storage.campaign_models import CampaignContact
from survey_bot.storage.models import Response
from survey_bot.storage.webhook_endpoints import add_endpoint
from survey_bot.storage.webhook_models import WebhookDelivery
from survey_bot.utc import as_utc
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
A, B, C, D = "+12125550201", "+12125550202", "+12125550203", "+12125550204"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, {"forms_dir": FORMS, "call_silence_timeout": 5.0}) as running:
        yield running


def dials(stack: Stack, phone: str) -> int:
    return sum(1 for r in stack.fake.accepted() if r.action == "dial" and r.body.get("to") == phone)


async def response_count(stack: Stack) -> int:
    async with state(stack.app).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Response)) or 0)


async def test_retries_by_outcome_up_to_max_attempts(stack: Stack) -> None:
    stack.fake.expect_dial(human(A))
    stack.fake.expect_dial(nobody(B, "busy"))
    stack.fake.expect_dial(human(B))
    stack.fake.expect_dial(nobody(D, "invalid_number"))  # C: nobody answers, twice
    async with state(stack.app).sessions() as session, session.begin():  # a receiver of contact.disposed
        await add_endpoint(session, "https://hooks.example.com/in", ["contact.disposed"], False, "test", utc_now())
    campaign_id = await add_campaign(stack, [A, B, C, D], max_attempts=2, retry_after_seconds=2)
    await wait_until_finished(stack, campaign_id)
    found = await contacts(stack, campaign_id)
    assert {p: (c.disposition, c.disposition_code, c.attempts) for p, c in found.items()} == {
        A: ("complete", "1.1", 1), B: ("complete", "1.1", 2), C: ("no_answer", "3.13", 2),
        D: ("invalid_number", "4.31", 1)}
    assert [dials(stack, p) for p in (A, B, C, D)] == [1, 2, 2, 1]
    async with state(stack.app).sessions() as session:  # one contact.disposed per contact, as it got its disposition
        sent = (await session.scalars(select(WebhookDelivery.payload)
                                      .where(WebhookDelivery.event_type == "contact.disposed"))).all()
    assert sorted(sent, key=lambda p: p["phone"]) == [
        {"contact_id": found[p].id, "campaign_id": campaign_id, "phone": p, "disposition": found[p].disposition,
         "disposition_code": found[p].disposition_code, "response_id": found[p].response_id} for p in (A, B, C, D)]
    tried = await attempts(stack, campaign_id)
    by_phone = {p: [a for a in tried if a.contact_id == c.id] for p, c in found.items()}
    assert [a.outcome for a in by_phone[B]] == ["busy", "complete"]
    assert [a.hangup_cause for a in by_phone[C]] == ["no_answer", "no_answer"]
    first, second = by_phone[B]
    assert as_utc(second.dialed_at) - as_utc(first.ended_at or first.dialed_at) >= timedelta(seconds=1.9)
    # Only the answered attempts have a response; each contact names the one it fed.
    assert await response_count(stack) == 2
    assert found[A].response_id and found[B].response_id == second.response_id and first.response_id is None
    async with state(stack.app).sessions() as session:
        statuses = (await session.scalars(select(Response.status))).all()
    assert sorted(statuses) == ["completed", "completed"]


async def test_window_in_the_contacts_local_time(stack: Stack) -> None:
    now = utc_now()
    start = (now - timedelta(hours=1)).strftime("%H:00")
    end = (now + timedelta(hours=2)).strftime("%H:00")
    stack.fake.expect_dial(human(A))
    # A is in UTC (inside the window), B twelve hours ahead (outside it)
    campaign_id = await add_campaign(stack, [A, B], timezones=["UTC", "Etc/GMT-12"], window_start=start,
                                     window_end=end)
    await _wait_for(stack, campaign_id, lambda found: found[A].state == "done")
    await stack.settle()
    found = await contacts(stack, campaign_id)
    assert found[A].disposition == "complete"
    assert found[B].state == "pending" and found[B].attempts == 0 and dials(stack, B) == 0
    assert found[B].next_attempt_at is not None and as_utc(found[B].next_attempt_at) > now + timedelta(hours=8)
    assert await campaign_status(stack, campaign_id) == "running"


async def test_a_number_suppressed_mid_campaign_is_never_called_again(stack: Stack) -> None:
    stack.fake.expect_dial(nobody(A, "busy"))
    campaign_id = await add_campaign(stack, [A], retry_after_seconds=2)
    await _wait_for(stack, campaign_id, lambda found: found[A].last_outcome == "busy")
    await suppress(stack, A)
    await wait_until_finished(stack, campaign_id)
    found = await contacts(stack, campaign_id)
    assert (found[A].disposition, found[A].attempts, dials(stack, A)) == ("busy", 1, 1)


async def test_pause_and_resume(stack: Stack) -> None:
    stack.fake.expect_dial(human(A))
    campaign_id = await add_campaign(stack, [A], status="paused")
    await _sleep_rounds()
    assert dials(stack, A) == 0
    await set_campaign(stack, campaign_id, status="running")
    await wait_until_finished(stack, campaign_id)
    assert (await contacts(stack, campaign_id))[A].disposition == "complete" and dials(stack, A) == 1


async def test_quota_stops_dialling_and_leaves_the_rest_quota_full(stack: Stack) -> None:
    for phone in (A, B, C):
        stack.fake.expect_dial(human(phone))
    campaign_id = await add_campaign(stack, [A, B, C], quota=1, concurrency=1)
    await wait_until_finished(stack, campaign_id)
    found = await contacts(stack, campaign_id)
    assert found[A].disposition == "complete"
    assert {p: (c.disposition, c.disposition_code, c.attempts) for p, c in found.items() if p != A} == {
        B: ("quota_full", "4.80", 0), C: ("quota_full", "4.80", 0)}
    assert dials(stack, B) == dials(stack, C) == 0


async def _sleep_rounds() -> None:
    await asyncio.sleep(1.0)  # five scheduler rounds


async def _wait_for(stack: Stack, campaign_id: str, done: Callable[[dict[str, CampaignContact]], bool],
                    seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not done(await contacts(stack, campaign_id)):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(str(await contacts(stack, campaign_id)))
        await asyncio.sleep(0.1)


async def test_answering_machines_get_the_campaigns_voicemail_after_the_beep(stack: Stack) -> None:
    stack.fake.expect_dial(nobody(A, "machine_beep"))
    stack.fake.expect_dial(human(B))
    campaign_id = await add_campaign(stack, [A, B], amd=True, voicemail="Acme calling, we will try again.")
    await wait_until_finished(stack, campaign_id)
    found = await contacts(stack, campaign_id)
    assert {p: (c.disposition, c.disposition_code, c.attempts) for p, c in found.items()} == {
        A: ("machine", "3.14", 1), B: ("complete", "1.1", 1)}
    tried = {a.contact_id: a for a in await attempts(stack, campaign_id)}
    machine, person = tried[found[A].id], tried[found[B].id]
    assert (machine.outcome, machine.amd_result, machine.voicemail_left) == ("machine_voicemail", "machine", True)
    assert person.outcome == "complete" and person.amd_result in ("human", "human_residence", "human_business")
    dial = next(r for r in stack.fake.accepted() if r.action == "dial" and r.body["to"] == A)
    assert dial.body["answering_machine_detection"] == "premium"
    said = [r.body.get("payload") for r in stack.fake.accepted(machine.call_control_id) if r.action == "speak"]
    assert said == ["Acme calling, we will try again."]
