"""Play scenario calls through the real app and the fake Telnyx on loopback, and read back what each left.

Used by `survey-bot simulate`, `survey-bot demo`, the dashboard's "try it" and the end-to-end tests: a call
is rung (inbound) or dialled through the outbox (outbound), played by the scripted caller, and once it has
ended and the outbox is empty, its response is read as a user would see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from survey_bot.campaigns.outcomes import attempt_outcome, facts_of
from survey_bot.intake.outbound import start_outbound_call
from survey_bot.sandbox.expectations import Mismatch, compare
from survey_bot.sandbox.scenario_file import ScenarioCall, ScenarioFile
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.storage.campaign_models import Suppression
from survey_bot.storage.form_versions import form_of_version
from survey_bot.storage.models import Command, Response
from survey_bot.storage.responses import record_of
from survey_bot.storage.sealing import open_answers, open_attempts
from survey_bot.web.state import state

__all__ = ["CallOutcome", "play_call", "simulate"]

CALL_TIMEOUT = 30.0  # seconds a scripted call may take before it is reported as stuck


@dataclass
class CallOutcome:
    """What one scenario call left behind, and how it compares with its expectations."""

    file: str
    name: str
    form_id: str
    response_id: str | None = None
    status: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    hangup_cause: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    asked_on_keypad: list[str] = field(default_factory=list)
    keypad_attempts: list[Any] = field(default_factory=list)
    transcript_turns: int = 0
    locale: str | None = None
    outcome: str | None = None  # what a campaign attempt would count it as (campaigns.outcomes)
    suppressed: bool = False  # the number is on the suppression list after the call
    error: str | None = None
    checked: bool = False
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No error, and (when checked) every expectation met."""
        return self.error is None and not self.mismatches

    def as_json(self) -> dict[str, Any]:
        """The outcome as `survey-bot simulate --json` prints it."""
        return {"file": self.file, "call": self.name, "form": self.form_id, "response_id": self.response_id,
                "status": self.status, "outcome": self.outcome, "suppressed": self.suppressed,
                "hangup_cause": self.hangup_cause, "answers": self.answers, "sources": self.sources,
                "asked_on_keypad": self.asked_on_keypad, "locale": self.locale, "error": self.error,
                "passed": self.passed if self.checked else None,
                "mismatches": [m.as_json() for m in self.mismatches]}


async def simulate(files: Sequence[ScenarioFile], database_url: str, overrides: Mapping[str, Any], *,
                   check: bool = False) -> list[CallOutcome]:
    """Play every call of every file, one file's calls on one running app (that form the default one)."""
    outcomes = []
    for scenario_file in (f for f in files if f.calls):  # (a file may hold only a campaign)
        settings = {**overrides, "default_form": scenario_file.form_id}
        async with running_stack(database_url, settings) as stack:
            for call in scenario_file.calls:
                outcomes.append(await play_call(stack, scenario_file.path, scenario_file.form_id, call, check=check))
    return outcomes


async def play_call(stack: Stack, path: Path | str, form_id: str, call: ScenarioCall, *,
                    check: bool = False) -> CallOutcome:
    """Play one call to its end on a running stack; its outcome (compared when `check`)."""
    outcome = CallOutcome(str(path), call.name, form_id, checked=check and call.expect is not None)
    try:
        async with asyncio.timeout(CALL_TIMEOUT):
            response_id = await (_dial(stack, form_id, call) if call.outbound else _ring(stack, call))
            await _until_over(stack, response_id)
    except TimeoutError:
        outcome.error = f"the call did not end within {CALL_TIMEOUT:.0f} s"
        return outcome
    if response_id is None:
        outcome.error = "no response was stored for this call"
        return outcome
    await _read(stack, response_id, outcome)
    if outcome.checked and call.expect is not None:
        outcome.mismatches = compare(call.expect, outcome)
    return outcome


async def _ring(stack: Stack, call: ScenarioCall) -> str | None:
    call_id = stack.fake.start_call(call.scenario)
    await stack.fake.wait_call_done(call_id, timeout=CALL_TIMEOUT)
    response = await stack.response_for_call(call_id)
    return None if response is None else response.id


async def _dial(stack: Stack, form_id: str, call: ScenarioCall) -> str:
    app_state = state(stack.app)
    stack.fake.expect_dial(call.scenario)
    async with app_state.sessions() as session, session.begin():
        record = await start_outbound_call(session, app_state.catalog, app_state.settings,
                                           call.scenario.to_number, form_id, call.locale, amd=call.amd)
    app_state.wake_dispatcher()
    return record.id


async def _until_over(stack: Stack, response_id: str | None) -> None:
    """Wait until the call's response has ended and nothing is left to send or deliver."""
    while response_id is not None:
        await stack.settle(CALL_TIMEOUT)
        async with _session(stack) as session:
            ended = await session.scalar(select(Response.ended_at).where(Response.id == response_id))
            open_commands = await session.scalar(
                select(func.count()).select_from(Command).where(Command.response_id == response_id,
                                                                Command.status.in_(("pending", "sending"))))
        if ended is not None and not open_commands:
            return
        await asyncio.sleep(0.05)


@asynccontextmanager
async def _session(stack: Stack) -> AsyncIterator[Any]:
    async with state(stack.app).sessions() as session:
        yield session


async def _read(stack: Stack, response_id: str, outcome: CallOutcome) -> None:
    async with _session(stack) as session:
        response = await session.get(Response, response_id)
        steps = (await session.scalars(select(Command.step).where(
            Command.response_id == response_id, Command.status == "sent", Command.step.like("keypad:%"))
            .order_by(Command.id))).all()
        phone = response.to_number if response.direction == "outgoing" else response.from_number
        outcome.suppressed = await session.get(Suppression, phone or "") is not None
        record = record_of(response)
        form = await form_of_version(session, state(stack.app).catalog, record.form_id, record.form_version_id)
    assert response is not None
    outcome.outcome = attempt_outcome(facts_of(record.state, form))
    outcome.response_id, outcome.status, outcome.hangup_cause = response.id, response.status, response.hangup_cause
    outcome.from_number, outcome.to_number = response.from_number, response.to_number
    outcome.answers, outcome.sources = open_answers(response.answers), dict(response.sources)
    outcome.provenance = dict(response.provenance)
    outcome.locale = response.locale
    outcome.keypad_attempts = list(open_attempts(response.keypad_attempts))
    outcome.transcript_turns = len(response.message_history) if isinstance(response.message_history, list) else 0
    outcome.asked_on_keypad = list(dict.fromkeys(step.split(":")[1] for step in steps))
