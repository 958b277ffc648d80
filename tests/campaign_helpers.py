"""Campaigns for the scheduler's tests, created as `campaign create` creates them (storage.campaigns' import, then
start), and waits on what the scheduler and the calls made of them."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from survey_bot.campaigns.settings import CampaignSettings
from survey_bot.sandbox.stack import Stack
from survey_bot.simulator import Scenario
from survey_bot.simulator.examples import ai_fills_everything
from survey_bot.storage.campaign_models import Campaign, CampaignContact, ContactAttempt
from survey_bot.storage.campaigns import import_campaign, transition
from survey_bot.storage.suppressions import add_suppressions
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

ALL_DAYS = "mon,tue,wed,thu,fri,sat,sun"


async def add_campaign(stack: Stack, phones: Sequence[str], *, timezones: Sequence[str] | None = None,
                       status: str = "running", columns: Mapping[str, Sequence[str]] | None = None,
                       **rules: Any) -> str:
    """A started campaign over `phones` on the satisfaction survey, open all day every day unless `rules` (fields
    of CampaignSettings) say else; `status` paused: started, then paused; `columns`: more of the list's columns
    (`name`, contact variables), a cell per phone."""
    settings = CampaignSettings(**{"window_start": "00:00", "window_end": "23:59", "days": ALL_DAYS,
                                   "retry_after_seconds": 3600, "concurrency": 10, "rate": 20.0, "amd": False,
                                   **rules})
    zones = timezones or ["UTC"] * len(phones)
    extra = dict(columns or {})
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["phone", "timezone", *extra])
    writer.writerows([phone, zone, *(cells[i] for cells in extra.values())]
                     for i, (phone, zone) in enumerate(zip(phones, zones, strict=True)))
    lines = [line.encode() for line in text.getvalue().splitlines(keepends=True)]
    async with state(stack.app).sessions() as session, session.begin():
        summary = await import_campaign(session, lines, form_id="customer_satisfaction", name="test",
                                        settings=settings, caller_id=None, now=utc_now())
        assert summary.imported == len(phones), summary
        for action in ("start", "pause") if status == "paused" else ("start",):
            await transition(session, summary.campaign_id, action, utc_now())
    return summary.campaign_id


async def suppress(stack: Stack, phone: str) -> None:
    """Put a number on the do-not-call list."""
    async with state(stack.app).sessions() as session, session.begin():
        await add_suppressions(session, [phone], "manual", "test", utc_now())


async def set_campaign(stack: Stack, campaign_id: str, **values: Any) -> None:
    """Change a campaign's columns (pause, resume)."""
    async with state(stack.app).sessions() as session, session.begin():
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        for name, value in values.items():
            setattr(campaign, name, value)


async def contacts(stack: Stack, campaign_id: str) -> dict[str, CampaignContact]:
    """The campaign's contacts by phone."""
    async with state(stack.app).sessions() as session:
        rows = (await session.scalars(select(CampaignContact).where(CampaignContact.campaign_id == campaign_id))).all()
    return {row.phone: row for row in rows}


async def attempts(stack: Stack, campaign_id: str) -> list[ContactAttempt]:
    """The campaign's attempts, in dial order."""
    async with state(stack.app).sessions() as session:
        return list((await session.scalars(select(ContactAttempt).where(ContactAttempt.campaign_id == campaign_id)
                                           .order_by(ContactAttempt.id))).all())


async def campaign_status(stack: Stack, campaign_id: str) -> str:
    """The campaign's status now."""
    async with state(stack.app).sessions() as session:
        return str(await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id)))


async def wait_until_finished(stack: Stack, campaign_id: str, seconds: float = 30.0) -> None:
    """Wait for the campaign to finish (every contact done), then for the outbox to drain."""
    deadline = asyncio.get_running_loop().time() + seconds
    while await campaign_status(stack, campaign_id) != "finished":
        if asyncio.get_running_loop().time() > deadline:
            states = {p: (c.state, c.attempts, c.last_outcome) for p, c in (await contacts(stack, campaign_id)).items()}
            raise TimeoutError(f"campaign not finished after {seconds}s: {states}")
        await asyncio.sleep(0.1)
    await stack.settle()


def human(phone: str) -> Scenario:
    """A person who answers and completes the satisfaction survey with the voice AI."""
    return dataclasses.replace(ai_fills_everything(), direction="outgoing", to_number=phone)


def nobody(phone: str, callee: str = "no_answer") -> Scenario:
    """A dial nobody (no person) takes: `no_answer`, `busy`, `invalid_number`."""
    return Scenario("outgoing", to_number=phone, callee=callee)  # type: ignore[arg-type]


SECONDS = timedelta(seconds=1)
