"""How a campaign's dial ends when no call comes of it, and how a cancel meets calls in progress, over real HTTP on
both databases: a dial Telnyx refuses for good (invalid number, or any other refusal) ends its attempt at once and
the contact takes the usual rules; a dial is sent at most three times; a single call whose dial is refused ends
`failed`; `campaign cancel` hangs up live calls through the outbox, never sends a queued dial, and disposes each
contact once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from campaign_helpers import add_campaign, attempts, campaign_status, contacts, human, nobody, wait_until_finished
from sqlalchemy import func, select

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.simulator import Scenario
from survey_bot.storage.campaign_models import CampaignContact
from survey_bot.storage.models import Command, Response
from survey_bot.storage.webhook_endpoints import add_endpoint
from survey_bot.storage.webhook_models import WebhookDelivery
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
ADMIN = "dial-end-admin-token"
A, B, C = "+12125550301", "+12125550302", "+12125550303"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    # no SDK retries: each request the fake receives is one send by the dispatcher
    async with running_stack(database_url, {"forms_dir": FORMS, "call_silence_timeout": 5.0, "admin_token": ADMIN,
                                            "telnyx_max_retries": 0}) as running:
        yield running


def dial_requests(stack: Stack, phone: str) -> list[int]:
    """The status of every dial request to `phone` the fake received, refused ones included."""
    return [r.status_code for r in stack.fake.requests if r.action == "dial" and r.body.get("to") == phone]


async def wait_for(stack: Stack, campaign_id: str, ready: Callable[[dict[str, CampaignContact]], bool],
                   seconds: float = 20.0) -> dict[str, CampaignContact]:
    deadline = asyncio.get_running_loop().time() + seconds
    while not ready(found := await contacts(stack, campaign_id)):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError({p: (c.state, c.attempts, c.last_outcome) for p, c in found.items()})
        await asyncio.sleep(0.05)
    return found


async def test_a_dial_refused_as_an_invalid_number_ends_the_attempt_at_once(stack: Stack) -> None:
    stack.fake.refuse_dials(A, 422, "10016", "/to")  # "+E.164 format" refused: no call, no webhooks
    stack.fake.refuse_dials(B, 422, "10002", None)
    stack.fake.expect_dial(human(C))
    campaign_id = await add_campaign(stack, [A, B, C], max_attempts=3, retry_after_seconds=1)
    await wait_until_finished(stack, campaign_id, seconds=20)
    found = await contacts(stack, campaign_id)
    assert {p: (c.disposition, c.disposition_code, c.attempts) for p, c in found.items()} == {
        A: ("invalid_number", "4.31", 1), B: ("invalid_number", "4.31", 1), C: ("complete", "1.1", 1)}
    assert dial_requests(stack, A) == [422] and dial_requests(stack, B) == [422]
    tried = {a.contact_id: a for a in await attempts(stack, campaign_id)}
    refused = tried[found[A].id]
    assert refused.outcome == "invalid_number" and refused.ended_at is not None and refused.response_id is None
    assert refused.hangup_cause == "invalid_number"
    async with state(stack.app).sessions() as session:  # the dials' responses went: nobody answered
        assert await session.scalar(select(func.count()).select_from(Response)) == 1


async def test_any_other_refusal_is_technical_and_retried_by_the_usual_rules(stack: Stack) -> None:
    stack.fake.refuse_dials(A, 403, None, None)  # refused for good, without an invalid-number code
    async with state(stack.app).sessions() as session, session.begin():
        await add_endpoint(session, "https://hooks.example.com/in", ["contact.disposed"], False, "test", utc_now())
    campaign_id = await add_campaign(stack, [A], max_attempts=2, retry_after_seconds=1)
    await wait_until_finished(stack, campaign_id, seconds=20)
    found = await contacts(stack, campaign_id)
    assert (found[A].disposition, found[A].disposition_code, found[A].attempts) == ("technical", "3.16", 2)
    assert dial_requests(stack, A) == [403, 403]
    assert [(a.outcome, a.hangup_cause) for a in await attempts(stack, campaign_id)] == [
        ("technical", "dial_failed"), ("technical", "dial_failed")]
    async with state(stack.app).sessions() as session:  # disposed once
        sent = (await session.scalars(select(WebhookDelivery.payload)
                                      .where(WebhookDelivery.event_type == "contact.disposed"))).all()
    assert [p["disposition"] for p in sent] == ["technical"]


async def test_a_dial_is_sent_at_most_three_times(stack: Stack) -> None:
    stack.fake.fail_next(10, 503, action="dial")  # Telnyx unavailable for longer than the dial may wait
    campaign_id = await add_campaign(stack, [A], max_attempts=1)
    await wait_until_finished(stack, campaign_id, seconds=30)
    found = await contacts(stack, campaign_id)
    assert (found[A].disposition, found[A].attempts) == ("technical", 1)
    assert dial_requests(stack, A) == [503, 503, 503]
    async with state(stack.app).sessions() as session:
        dial = (await session.scalars(select(Command).where(Command.action == "dial"))).one()
    assert (dial.status, dial.attempts) == ("failed", 3)


async def test_a_single_call_whose_dial_is_refused_ends_failed(stack: Stack) -> None:
    stack.fake.refuse_dials(A, 403, None, None)
    stack.fake.refuse_dials(B, 422, "10016", "/to")
    async with httpx.AsyncClient(base_url=stack.app_url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        made = {phone: (await client.post("/api/calls", json={"to": phone, "form": "customer_satisfaction"}))
                for phone in (A, B)}
        assert all(r.status_code == 202 for r in made.values()), [r.text for r in made.values()]
        await stack.settle()
        shown = {phone: (await client.get(f"/api/responses/{r.json()['response_id']}")).json()
                 for phone, r in made.items()}
    assert {p: (s["status"], s["hangup_cause"]) for p, s in shown.items()} == {
        A: ("failed", "dial_failed"), B: ("failed", "invalid_number")}
    assert dial_requests(stack, A) == [403] and dial_requests(stack, B) == [422]


def machine_on_the_line(phone: str) -> Scenario:
    """A machine whose greeting runs long: the call is up (answered, detection done) for six seconds."""
    return Scenario("outgoing", to_number=phone, callee="machine_beep", greeting_s=6.0)


async def test_cancel_hangs_up_live_calls_and_never_sends_queued_dials(stack: Stack) -> None:
    stack.fake.expect_dial(machine_on_the_line(A))
    stack.fake.refuse_dials(B, 503, None, None)  # B's dial fails for now: it waits in the outbox for its retry
    async with state(stack.app).sessions() as session, session.begin():
        await add_endpoint(session, "https://hooks.example.com/in", ["contact.disposed"], False, "test", utc_now())
    campaign_id = await add_campaign(stack, [A, B, C], concurrency=2, amd=True, voicemail="Please call us back.")
    await wait_for(stack, campaign_id, lambda f: f[A].state == "dialing" and dial_requests(stack, B) == [503])

    async def a_response() -> Response | None:
        async with state(stack.app).sessions() as session:
            return await session.get(Response, (await attempts(stack, campaign_id))[0].response_id)

    deadline = asyncio.get_running_loop().time() + 10
    while (live := await a_response()) is None or live.answered_at is None:  # A's machine picked up; it greets on
        assert asyncio.get_running_loop().time() < deadline, "A's call was not answered"
        await asyncio.sleep(0.05)
    assert live.call_control_id and live.ended_at is None
    async with httpx.AsyncClient(base_url=stack.app_url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        cancelled = await client.post(f"/api/campaigns/{campaign_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    found = await contacts(stack, campaign_id)
    assert (found[C].state, found[C].disposition, found[C].attempts) == ("done", "not_attempted", 0)
    assert found[A].state == "dialing" and found[A].disposition is None  # until its call has ended
    found = await wait_for(stack, campaign_id, lambda f: f[A].state == f[B].state == "done", seconds=10)
    await stack.settle()
    assert (found[A].disposition, found[A].disposition_code) == ("machine", "3.14")
    assert (found[B].disposition, found[B].attempts) == ("technical", 1)  # its one dial never placed a call
    assert stack.fake.call_state(live.call_control_id) == "hangup"
    assert "hangup" in [r.action for r in stack.fake.accepted(live.call_control_id)]
    assert dial_requests(stack, B) == [503] and dial_requests(stack, C) == []  # never sent again; never sent
    async with state(stack.app).sessions() as session:
        b_dial = (await session.scalars(select(Command).where(Command.action == "dial",
                                                              Command.arguments["to"].as_string() == B))).first()
        sent = (await session.scalars(select(WebhookDelivery.payload)
                                      .where(WebhookDelivery.event_type == "contact.disposed"))).all()
    assert b_dial is None or b_dial.status == "skipped"
    assert await campaign_status(stack, campaign_id) == "cancelled"
    assert sorted(p["phone"] for p in sent) == [A, B, C]  # each contact disposed once


async def test_a_cancelled_campaigns_calls_end_with_one_disposal_each(stack: Stack) -> None:
    stack.fake.expect_dial(nobody(A, "busy"))
    campaign_id = await add_campaign(stack, [A], retry_after_seconds=3600)
    await wait_for(stack, campaign_id, lambda f: f[A].last_outcome == "busy")
    async with httpx.AsyncClient(base_url=stack.app_url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        assert (await client.post(f"/api/campaigns/{campaign_id}/cancel")).status_code == 200
        again = await client.post(f"/api/campaigns/{campaign_id}/cancel")
    assert again.status_code == 409
    found = await contacts(stack, campaign_id)
    assert (found[A].state, found[A].disposition, found[A].attempts) == ("done", "busy", 1)


async def test_a_dial_still_queued_at_the_cancel_is_no_attempt(stack: Stack) -> None:
    """The dispatcher is down (its process restarting) while the scheduler queues C's dial; the campaign is cancelled
    before it comes back: the dial is never sent and C, never dialled, is not_attempted (3.11), not technical."""
    dispatcher = state(stack.app).dispatcher
    await dispatcher.stop()
    campaign_id = await add_campaign(stack, [C])
    await wait_for(stack, campaign_id, lambda f: f[C].state == "dialing")
    async with httpx.AsyncClient(base_url=stack.app_url, headers={"Authorization": f"Bearer {ADMIN}"}) as client:
        assert (await client.post(f"/api/campaigns/{campaign_id}/cancel")).status_code == 200
    dispatcher._stopping = False  # the dispatcher is back
    dispatcher.start()
    found = await wait_for(stack, campaign_id, lambda f: f[C].state == "done")
    assert (found[C].disposition, found[C].disposition_code, found[C].attempts) == ("not_attempted", "3.11", 0)
    assert dial_requests(stack, C) == [] and await attempts(stack, campaign_id) == []
    async with state(stack.app).sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Response)) == 0  # no call, no response
