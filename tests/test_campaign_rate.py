"""A campaign's rate holds where it counts, at Telnyx: on both databases, with dials counted by the time the fake
Telnyx received them, no one-second window ever holds more than the campaign's rate, even when the dispatcher
stalled while dials fell due (they must not go out together when it comes back) and when Telnyx refused dials
for a while (each retried dial takes a slot like a new one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from campaign_helpers import add_campaign, contacts, nobody, wait_until_finished

from survey_bot.dispatch.sender import Dispatcher
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
RATE = 8
PHONES = [f"+121255506{n:02d}" for n in range(24)]


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    # no SDK retries: a refused dial goes back to the outbox, to be claimed (and paced) again
    async with running_stack(database_url, {"forms_dir": FORMS, "call_silence_timeout": 5.0,
                                            "telnyx_max_retries": 0}) as running:
        yield running


def dial_times(stack: Stack) -> list[float]:
    """When the fake Telnyx received each dial it acted on, in order."""
    return sorted(r.received_at for r in stack.fake.requests if r.action == "dial" and r.accepted)


def busiest_second(times: Sequence[float]) -> int:
    """The most dials in any window [t, t + 1 s)."""
    return max((sum(1 for t in times if start <= t < start + 1.0) for start in times), default=0)


async def start_campaign(stack: Stack) -> str:
    for phone in PHONES:  # nobody answers: each dial is a short call, so the rate is what holds dials back
        stack.fake.expect_dial(nobody(phone))
    return await add_campaign(stack, PHONES, concurrency=len(PHONES), rate=float(RATE),
                              max_attempts=1)


async def test_dials_never_exceed_the_rate_in_any_second(stack: Stack) -> None:
    campaign_id = await start_campaign(stack)
    await wait_until_finished(stack, campaign_id, seconds=20)
    times = dial_times(stack)
    assert len(times) == len(PHONES)
    assert busiest_second(times) <= RATE, times


async def test_a_stalled_dispatcher_does_not_burst_when_it_comes_back(stack: Stack) -> None:
    app_state = state(stack.app)
    await app_state.dispatcher.stop()  # the scheduler goes on queuing dials, each due at its slot
    campaign_id = await start_campaign(stack)
    await asyncio.sleep(2.0)
    assert dial_times(stack) == []
    queued = [c for c in (await contacts(stack, campaign_id)).values() if c.state == "dialing"]
    assert len(queued) > RATE  # more due dials than one second may hold
    app_state.dispatcher = Dispatcher(app_state.sessions, app_state.client, app_state.catalog)
    app_state.dispatcher.start()
    await wait_until_finished(stack, campaign_id, seconds=20)
    times = dial_times(stack)
    assert len(times) == len(PHONES)
    assert busiest_second(times) <= RATE, times


async def test_dials_retried_after_telnyx_refused_them_take_slots_too(stack: Stack) -> None:
    stack.fake.fail_next(6, 503, action="dial")  # the first six dials are refused: each retried after its backoff
    campaign_id = await start_campaign(stack)
    await wait_until_finished(stack, campaign_id, seconds=20)
    refused = [r for r in stack.fake.requests if r.action == "dial" and r.status_code == 503]
    assert len(refused) == 6
    times = dial_times(stack)
    assert len(times) == len(PHONES)
    assert busiest_second(times) <= RATE, times
