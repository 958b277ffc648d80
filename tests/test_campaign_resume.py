"""A breakoff continued, end to end on both databases: the campaign re-dials the contact, the same response
reopens (its first call's start kept, both calls on its timeline), the answer given on the first call is kept
and not asked again, and the AI gets only what is left, seeded with the first call's transcript."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from campaign_helpers import add_campaign, attempts, contacts, wait_until_finished
from sqlalchemy import select

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.simulator import AIStep, Scenario
from survey_bot.simulator.scenario import KeypadHangup
from survey_bot.storage.models import Response, WebhookEvent
from survey_bot.utc import as_utc
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
PHONE = "+12125550301"
REST = {"satisfaction": "satisfied", "improve_first": "delivery", "would_recommend": True,
        "topics": ["delivery"], "comment": "Faster delivery please."}


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, {"forms_dir": FORMS, "call_silence_timeout": 5.0}) as running:
        yield running


def breaks_off() -> Scenario:
    """Tells the AI a 3, then hangs up when the keypad asks how satisfied they are (1 of 3 required: break-off)."""
    return Scenario("outgoing", to_number=PHONE, ai_steps=[AIStep({"nps": 3}, "From 0 to 10?", "Three.")],
                    ai_result={"nps": 3}, keypad=[KeypadHangup()])


def finishes() -> Scenario:
    """Answers everything that is left."""
    return Scenario("outgoing", to_number=PHONE, ai_steps=[AIStep(REST, "Welcome back: how satisfied?", "Satisfied.")])


async def test_resume_after_a_breakoff_continues_the_same_response(stack: Stack) -> None:
    stack.fake.expect_dial(breaks_off())
    stack.fake.expect_dial(finishes())
    campaign_id = await add_campaign(stack, [PHONE], retry_after_seconds=2)
    await wait_until_finished(stack, campaign_id)
    contact = (await contacts(stack, campaign_id))[PHONE]
    first, second = await attempts(stack, campaign_id)
    assert (first.outcome, second.outcome) == ("break_off", "complete")
    assert (contact.disposition, contact.disposition_code) == ("complete", "1.1")
    assert first.response_id == second.response_id == contact.response_id
    async with state(stack.app).sessions() as session:
        (response,) = (await session.scalars(select(Response))).all()
        calls_on_timeline = set((await session.scalars(select(WebhookEvent.call_control_id).where(
            WebhookEvent.response_id == response.id))).all())
    assert response.status == "completed" and response.calls == 2
    assert response.answers == {"nps": 3, **REST}
    assert response.provenance["nps"]["attempt"] == "ai" and response.sources["nps"] == "ai"
    assert as_utc(response.started_at) <= as_utc(first.dialed_at)  # the first call's start
    assert {first.call_control_id, second.call_control_id} <= calls_on_timeline
    # The second call's AI gather: only the fields left, seeded with the first call's transcript.
    (gather,) = [r for r in stack.fake.accepted(second.call_control_id) if r.action == "gather_using_ai"]
    asked = set(gather.body["parameters"]["properties"])
    assert "nps" not in asked and {"satisfaction", "improve_first"} <= asked
    assert any(turn["content"] == "Three." for turn in gather.body["message_history"])
