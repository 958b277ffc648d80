"""The watchdog: finds responses that heard nothing for longer than the step they await allows (plus
SURVEY_BOT_CALL_SILENCE_TIMEOUT), asks Telnyx whether each call is still alive, and hands what it learned to the
intake as a `survey_bot.watchdog` event, so the decision (flow.watchdog) is made and committed on the same path
as every webhook's.

Safe with several workers and hosts: each runs a sweep, but the event's id names the response and how many
watchdog events it has had, so two sweeps finding the same silent call make one event, recorded once (the
intake's rule for every webhook); the losers' status reads are the only duplicate work. The event also carries
the response's `updated_at` as the sweep saw it: a webhook that changed the response while Telnyx was being asked
makes the event stale, and the intake records it without acting (write_path).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from survey_bot.errors import FormError
from survey_bot.flow.events import Event
from survey_bot.flow.state import STATE_FIELDS, CallState
from survey_bot.flow.watchdog import WATCHDOG_EVENT, silence_allowed
from survey_bot.forms.model import FormCatalog
from survey_bot.intake.writer import Intake
from survey_bot.observe.metrics import watchdog_action
from survey_bot.periodic import Periodic
from survey_bot.storage.form_versions import form_of_version
from survey_bot.storage.models import Response
from survey_bot.telephony.client import Client, call_alive
from survey_bot.telephony.envelope import encode_client_state
from survey_bot.utc import as_utc
from survey_bot.utc import now as utc_now
from survey_bot.vocabulary import IN_PROGRESS

__all__ = ["Silent", "Watchdog"]

log = logging.getLogger(__name__)
_BATCH = 200  # responses looked at per sweep


@dataclass(frozen=True)
class Silent:
    """A response silent past its allowance."""

    response_id: str
    call_control_id: str | None
    checks: int  # watchdog events it has had
    seen: datetime  # its updated_at when the sweep looked


class Watchdog:
    """Sweeps every `interval` seconds until stopped."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: FormCatalog, client: Client,
                 intake: Intake, margin: float) -> None:
        self._sessions, self._catalog, self._client, self._intake = sessions, catalog, client, intake
        self.margin = margin
        self.interval = max(0.2, min(5.0, margin / 4))
        self._loop = Periodic("watchdog", self.sweep)

    def start(self) -> None:
        """Start sweeping in the background."""
        self._loop.start(self.interval)

    async def stop(self) -> None:
        """Stop sweeping."""
        await self._loop.stop()

    async def sweep(self, now: datetime | None = None) -> int:
        """Check every silent response once; return how many events it handed to the intake. `now` may be
        given (a later clock) to judge silence without waiting for it."""
        return await self.act(await self.silent(now or utc_now()))

    async def act(self, found: list[Silent]) -> int:
        """Ask Telnyx whether each silent response's call lives and hand the answer to the intake; return how
        many events were handed in."""
        handed = 0
        for silent in found:
            alive = await call_alive(self._client, silent.call_control_id) if silent.call_control_id else False
            if alive is None:
                continue  # Telnyx could not be asked: next sweep
            outcome = await self._intake.submit(_event(silent, alive))
            if outcome.state == "processed":  # not a duplicate another worker already handed in
                watchdog_action("ended_lost" if not alive else "acted_on_live_call")
            handed += 1
        return handed

    async def silent(self, now: datetime) -> list[Silent]:
        """Responses in progress that heard nothing for longer than their awaited step allows plus the margin."""
        cutoff = now - timedelta(seconds=self.margin)
        async with self._sessions() as session:
            rows = (await session.scalars(
                select(Response).where(Response.status == IN_PROGRESS, Response.updated_at < cutoff)
                .order_by(Response.updated_at).limit(_BATCH))).all()
            found = []
            for row in rows:
                state = CallState(response_id=row.id, direction=row.direction)
                for name in STATE_FIELDS:
                    setattr(state, name, getattr(row, name))
                try:
                    form = await form_of_version(session, self._catalog, row.form_id, row.form_version_id)
                except FormError:
                    continue
                allowed = silence_allowed(state, form)
                if allowed is not None and as_utc(row.updated_at) + timedelta(seconds=allowed) < cutoff:
                    found.append(Silent(row.id, row.call_control_id, len(state.watchdog), as_utc(row.updated_at)))
        return found


def _event(silent: Silent, alive: bool) -> Event:
    client_state = {"r": silent.response_id}
    payload = {"alive": alive, "call_control_id": silent.call_control_id, "seen": silent.seen.isoformat(),
               "client_state": encode_client_state(client_state)}
    event_id = f"watchdog:{silent.response_id}:{silent.checks}"
    body = {"data": {"id": event_id, "event_type": WATCHDOG_EVENT, "payload": payload}}
    return Event(id=event_id, event_type=WATCHDOG_EVENT, occurred_at=utc_now(), payload=payload,
                 raw=json.dumps(body), client_state=client_state)
