"""The demo's small campaign: a dozen contacts on the satisfaction survey, dialled by the scheduler through the
simulated Telnyx, with mixed outcomes (people who answer, busy lines and unanswered phones retried after a
second, a wrong number, a breakoff resumed on the next call), then its dispositions, as `campaign report`
counts them."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any, TextIO

from sqlalchemy import select

from survey_bot.campaigns.dispositions import CODES, DISPOSITIONS
from survey_bot.sandbox.stack import running_stack
from survey_bot.simulator import AIStep, Scenario
from survey_bot.simulator.examples import ai_fills_everything
from survey_bot.simulator.scenario import KeypadHangup
from survey_bot.storage.campaign_models import Campaign, CampaignContact
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

__all__ = ["FORM", "run_demo_campaign"]

FORM = "customer_satisfaction"
_EVERY_DAY = "mon,tue,wed,thu,fri,sat,sun"


def _plan() -> dict[str, list[Scenario]]:
    """Each contact's callee on each attempt (nobody answers once they run out)."""
    def person(phone: str) -> Scenario:
        return dataclasses.replace(ai_fills_everything(), direction="outgoing", to_number=phone)

    def nobody(phone: str, callee: str) -> Scenario:
        return Scenario("outgoing", to_number=phone, callee=callee)  # type: ignore[arg-type]

    def breaks_off(phone: str) -> Scenario:
        return Scenario("outgoing", to_number=phone, ai_steps=[AIStep({"nps": 3}, "From 0 to 10?", "Three.")],
                        ai_result={"nps": 3}, keypad=[KeypadHangup()])

    def finishes(phone: str) -> Scenario:
        rest = {"satisfaction": "neutral", "improve_first": "price", "would_recommend": False}
        return Scenario("outgoing", to_number=phone, ai_steps=[AIStep(rest, "Welcome back.", "Neutral. Price.")])

    phones = [f"+1555060{n:04d}" for n in range(1, 13)]
    plan: dict[str, list[Scenario]] = {phone: [person(phone)] for phone in phones[:5]}
    plan[phones[5]] = [nobody(phones[5], "busy"), person(phones[5])]
    plan[phones[6]] = [nobody(phones[6], "no_answer"), person(phones[6])]
    plan[phones[7]] = [nobody(phones[7], "busy")] * 3
    plan[phones[8]] = []  # nobody ever answers
    plan[phones[9]] = [nobody(phones[9], "invalid_number")]
    plan[phones[10]] = [breaks_off(phones[10]), finishes(phones[10])]
    plan[phones[11]] = [breaks_off(phones[11])]
    return plan


async def run_demo_campaign(url: str, overrides: Mapping[str, Any], out: TextIO, seconds: float = 60.0) -> bool:
    """Run the campaign to its end on the simulator and print its dispositions; say whether it finished."""
    plan = _plan()
    async with running_stack(url, overrides) as stack:
        for callees in plan.values():
            for scenario in callees:
                stack.fake.expect_dial(scenario)
        campaign_id = str(uuid.uuid4())
        now = utc_now()
        async with state(stack.app).sessions() as session, session.begin():
            session.add(Campaign(id=campaign_id, name="demo", form_id=FORM, status="running", window_start="00:00",
                                 window_end="23:59", days=_EVERY_DAY, max_attempts=3, retry_after_seconds=1,
                                 concurrency=4, rate=4.0, amd=False, voicemail=None, quota=None, locale=None,
                                 default_region=None, caller_id=None, columns=[], created_at=now, started_at=now))
            await session.flush()
            session.add_all(CampaignContact(campaign_id=campaign_id, line=line, phone=phone, timezones="UTC",
                                            locale=None, name=None, variables={}, state="pending", attempts=0)
                            for line, phone in enumerate(plan, start=2))
        print(f"\nA small campaign ({len(plan)} contacts, up to 3 attempts, retries after 1s) on {FORM}:",
              file=out, flush=True)
        finished = await _wait(stack.app, campaign_id, seconds)
        async with state(stack.app).sessions() as session:
            rows = (await session.execute(select(CampaignContact.disposition, CampaignContact.attempts)
                                          .where(CampaignContact.campaign_id == campaign_id))).all()
    counts = Counter(row.disposition or "(not done)" for row in rows)
    for slug in (*DISPOSITIONS, "(not done)"):
        if counts.get(slug):
            code = CODES.get(slug, "")
            print(f"  {slug:<15} {code:<5} {counts[slug]}", file=out)
    print(f"  {sum(row.attempts for row in rows)} calls placed for {len(rows)} contacts; campaign "
          f"{'finished' if finished else 'did not finish in time'} (id {campaign_id})", file=out, flush=True)
    return finished


async def _wait(app: Any, campaign_id: str, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        async with state(app).sessions() as session:
            status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        if status == "finished":
            return True
        await asyncio.sleep(0.2)
    return False
