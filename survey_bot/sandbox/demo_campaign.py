"""The demo's small campaign: a dozen contacts on the satisfaction survey, dialled by the scheduler through the
simulated Telnyx, with mixed outcomes (people who answer, busy lines and unanswered phones retried after a
second, a wrong number, a breakoff resumed on the next call), then its report (dispositions with their AAPOR
codes and the rates), as `campaign report` prints it. The campaign is created as `campaign create` creates one
(storage.campaigns' import and start)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any, TextIO

from sqlalchemy import func, select

from survey_bot.campaigns.settings import CampaignSettings
from survey_bot.reports.campaigns import campaign_report, report_lines
from survey_bot.sandbox.stack import running_stack
from survey_bot.simulator import AIStep, Scenario
from survey_bot.simulator.examples import ai_fills_everything
from survey_bot.simulator.scenario import KeypadHangup
from survey_bot.storage.campaign_models import Campaign, CampaignContact
from survey_bot.storage.campaigns import import_campaign, transition
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

__all__ = ["FORM", "run_demo_campaign"]

FORM = "customer_satisfaction"
_RULES = CampaignSettings(window_start="00:00", window_end="23:59", days="mon,tue,wed,thu,fri,sat,sun",
                          max_attempts=3, retry_after_seconds=1, concurrency=4, rate=4.0, amd=False)


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

    phones = [f"+121255506{n:02d}" for n in range(1, 13)]
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
        lines = [b"phone,timezone\n", *(f"{phone},UTC\n".encode() for phone in plan)]
        async with state(stack.app).sessions() as session, session.begin():
            summary = await import_campaign(session, lines, form_id=FORM, name="demo", settings=_RULES,
                                            caller_id=None, now=utc_now())
            campaign_id = summary.campaign_id
            await transition(session, campaign_id, "start", utc_now())
        print(f"\nA small campaign ({len(plan)} contacts, up to 3 attempts, retries after 1s) on {FORM}:",
              file=out, flush=True)
        finished = await _wait(stack.app, campaign_id, seconds)
        async with state(stack.app).sessions() as session:
            report = await campaign_report(session, campaign_id)
            calls = await session.scalar(select(func.sum(CampaignContact.attempts))
                                         .where(CampaignContact.campaign_id == campaign_id))
    print("\n".join(report_lines(report)), file=out)
    print(f"  {calls or 0} calls placed for {report.contacts} contacts; campaign "
          f"{'finished' if finished else 'did not finish in time'}", file=out, flush=True)
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
