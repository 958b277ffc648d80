"""Play a scenario file's campaign: created as `campaign create` creates one (the same import, then start), dialled
by the app's own scheduler through the fake Telnyx, whose callees on each attempt the file scripts; then each
contact's disposition, attempts and response are read back and compared with its `expect`.

A campaign with nothing due within IDLE_S (its window closed, a long retry-after) is cancelled, so the contacts
left get their dispositions (never dialled: not_attempted); one whose contacts stop changing for STALL_S while
something is due is reported as stuck.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import select

from survey_bot.reports.campaign_views import CampaignReport
from survey_bot.reports.campaigns import campaign_report
from survey_bot.sandbox.expectations import Mismatch, compare
from survey_bot.sandbox.scenario_campaign import ContactExpectation, ScenarioCampaign
from survey_bot.sandbox.scenario_file import ScenarioFile
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.storage.campaign_models import Campaign, CampaignContact, ContactAttempt, Suppression
from survey_bot.storage.campaigns import TransitionRefused, import_campaign, transition
from survey_bot.storage.models import Response
from survey_bot.storage.sealing import open_answers
from survey_bot.utc import as_utc
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

__all__ = ["IDLE_S", "STALL_S", "CampaignOutcome", "ContactOutcome", "play_campaign", "simulate_campaigns"]

IDLE_S: Final = 5.0  # nothing due this soon: the campaign is cancelled (what is left: not_attempted)
STALL_S: Final = 30.0  # no contact changed for this long while something is due: stuck


@dataclass
class ContactOutcome:
    """What one contact ended with, and how it compares with its expectations."""

    name: str
    phone: str
    disposition: str | None = None
    disposition_code: str | None = None
    attempts: int = 0
    outcomes: list[str | None] = field(default_factory=list)
    response_id: str | None = None
    status: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    suppressed: bool = False
    checked: bool = False
    mismatches: list[Mismatch] = field(default_factory=list)
    asked_on_keypad: list[str] = field(default_factory=list)  # (not read for contacts: never compared)
    locale: str | None = None
    outcome: str | None = None  # the last dial's outcome

    @property
    def passed(self) -> bool:
        """Every expectation met (when checked)."""
        return not self.mismatches

    def as_json(self) -> dict[str, Any]:
        """The contact as `survey-bot simulate --json` prints it."""
        return {"contact": self.name, "phone": self.phone, "disposition": self.disposition,
                "disposition_code": self.disposition_code, "attempts": self.attempts, "outcomes": self.outcomes,
                "response_id": self.response_id, "status": self.status, "answers": self.answers,
                "sources": self.sources, "suppressed": self.suppressed,
                "passed": self.passed if self.checked else None, "mismatches": [m.as_json() for m in self.mismatches]}


@dataclass
class CampaignOutcome:
    """What a file's campaign came to: its contacts, its report, whether it was cancelled or got stuck."""

    file: str
    form_id: str
    name: str
    campaign_id: str | None = None
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False
    error: str | None = None
    calls: int = 0
    report: CampaignReport | None = None
    contacts: list[ContactOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No error and every checked contact as expected."""
        return self.error is None and all(contact.passed for contact in self.contacts)

    def as_json(self) -> dict[str, Any]:
        """The campaign as `survey-bot simulate --json` prints it (in `campaigns`)."""
        return {"file": self.file, "form": self.form_id, "name": self.name, "campaign_id": self.campaign_id,
                "notes": self.notes, "cancelled": self.cancelled, "error": self.error, "calls": self.calls,
                "report": self.report.model_dump(mode="json") if self.report else None,
                "contacts": [contact.as_json() for contact in self.contacts], "passed": self.passed}


async def simulate_campaigns(files: Sequence[ScenarioFile], database_url: str, overrides: Mapping[str, Any], *,
                             check: bool = False) -> list[CampaignOutcome]:
    """Play the campaign of every file that has one, each on its own running app."""
    played = []
    for scenario_file in files:
        if scenario_file.campaign is not None:
            async with running_stack(database_url, overrides) as stack:
                played.append(await play_campaign(stack, scenario_file, scenario_file.campaign, check=check))
    return played


async def play_campaign(stack: Stack, scenario_file: ScenarioFile, campaign: ScenarioCampaign, *,
                        check: bool = False) -> CampaignOutcome:
    """Create and start the campaign, serve each attempt's callee, wait for its end; its outcome."""
    outcome = CampaignOutcome(str(scenario_file.path), scenario_file.form_id, campaign.name, notes=list(campaign.notes))
    for contact in campaign.contacts:
        for scenario in contact.attempts:
            stack.fake.expect_dial(scenario)  # dials past the scripted ones: nobody answers
    async with state(stack.app).sessions() as session, session.begin():
        summary = await import_campaign(session, campaign.list_lines, form_id=scenario_file.form_id,
                                        name=campaign.name, settings=campaign.settings, caller_id=None, now=utc_now())
        outcome.campaign_id = summary.campaign_id
        await transition(session, summary.campaign_id, "start", utc_now())
    outcome.cancelled, outcome.error = await _run_to_end(stack, summary.campaign_id)
    await stack.settle()
    await _read(stack, campaign, outcome, check=check)
    return outcome


async def _run_to_end(stack: Stack, campaign_id: str) -> tuple[bool, str | None]:
    """(cancelled, error): wait until the campaign finishes, cancel it when nothing is due soon."""
    loop = asyncio.get_running_loop()
    seen: tuple[tuple[str, int], ...] = ()
    changed = loop.time()
    while True:
        async with state(stack.app).sessions() as session:
            status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
            rows = (await session.execute(select(CampaignContact.state, CampaignContact.attempts,
                                                 CampaignContact.next_attempt_at)
                                          .where(CampaignContact.campaign_id == campaign_id))).all()
        if status in ("finished", "cancelled"):
            return status == "cancelled", None
        snapshot = tuple((row.state, row.attempts) for row in rows)
        if snapshot != seen:
            seen, changed = snapshot, loop.time()
        elif loop.time() - changed > STALL_S:
            left = sum(1 for row in rows if row.state != "done")
            return False, f"the campaign made no progress for {STALL_S:.0f} s ({left} contact(s) not done)"
        soon = utc_now() + timedelta(seconds=IDLE_S)
        waiting = [row for row in rows if row.state == "pending"]
        if waiting and not any(row.state == "dialing" for row in rows) and all(
                row.next_attempt_at is not None and as_utc(row.next_attempt_at) > soon for row in waiting):
            async with state(stack.app).sessions() as session, session.begin():
                try:
                    await transition(session, campaign_id, "cancel", utc_now())
                except TransitionRefused:
                    continue  # it finished meanwhile
            return True, None
        await asyncio.sleep(0.2)


async def _read(stack: Stack, campaign: ScenarioCampaign, outcome: CampaignOutcome, *, check: bool) -> None:
    assert outcome.campaign_id is not None
    by_phone = {contact.phone: contact for contact in campaign.contacts}
    async with state(stack.app).sessions() as session:
        outcome.report = await campaign_report(session, outcome.campaign_id)
        rows = (await session.scalars(select(CampaignContact).where(CampaignContact.campaign_id == outcome.campaign_id)
                                      .order_by(CampaignContact.line))).all()
        for row in rows:
            found = ContactOutcome(by_phone[row.phone].name, row.phone, row.disposition, row.disposition_code,
                                   row.attempts, response_id=row.response_id, outcome=row.last_outcome)
            found.outcomes = list((await session.scalars(select(ContactAttempt.outcome).where(
                ContactAttempt.contact_id == row.id).order_by(ContactAttempt.number))).all())
            response = await session.get(Response, row.response_id) if row.response_id else None
            if response is not None:
                found.status, found.locale = response.status, response.locale
                found.answers, found.sources = open_answers(response.answers), dict(response.sources)
            found.suppressed = await session.get(Suppression, row.phone) is not None
            expect = by_phone[row.phone].expect
            if check and expect is not None:
                found.checked, found.mismatches = True, _compare(expect, found)
            outcome.contacts.append(found)
    outcome.calls = sum(contact.attempts for contact in outcome.contacts)


def _compare(expect: ContactExpectation, found: ContactOutcome) -> list[Mismatch]:
    said: tuple[tuple[str, object, object], ...] = (
        ("disposition", expect.disposition, found.disposition), ("attempts", expect.attempts, found.attempts),
        ("outcomes", list(expect.outcomes) if expect.outcomes is not None else None, found.outcomes))
    return [Mismatch(key, wanted, seen) for key, wanted, seen in said if wanted is not None and wanted != seen] + \
        compare(expect.call, found)
