"""Sends outbox commands through the SDK: in order per call, concurrently across calls, never twice.

It wakes when a webhook commits new commands, when the first command held for later falls due (a campaign
dial's rate slot, storage.send_pacing; a retry's backoff), and polls once a second for the rest (commands left
by a restart or another worker). A command Telnyx refuses for good becomes a
`survey_bot.command_failed` event processed like a webhook, so the conversation can move on.
Each command handled is counted by action and status once its transaction committed (observe.metrics; in the
dispatcher child too, whose counts reach the scrape through the multiprocess files), and what is logged while
it is sent or recorded carries its ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from survey_bot.dispatch.liveness import Presence
from survey_bot.flow.events import Event
from survey_bot.forms.model import FormCatalog
from survey_bot.intake.write_path import handle_event
from survey_bot.observe import metrics
from survey_bot.observe.log_context import log_context
from survey_bot.storage import outbox, send_pacing
from survey_bot.storage.campaign_cancel import cancelled_dials
from survey_bot.storage.models import Command
from survey_bot.storage.responses import link_dialled_call
from survey_bot.storage.sealing import open_arguments, sealed_arguments
from survey_bot.telephony.client import Client, SendResult, dial_refusal_cause, send_command
from survey_bot.telephony.envelope import encode_client_state
from survey_bot.utc import now as utc_now
from survey_bot.vocabulary import NOT_DIALLED

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
MAX_BACKOFF = timedelta(seconds=30)
# A dial is sent at most this many times: a contact is `dialing` until its dial ends, and a Telnyx down for longer
# than the retries take is a technical failure of the attempt (the campaign's own retry rules dial again later).
MAX_DIAL_SENDS = 3


class Dispatcher:
    """The outbox sender; one per process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: Client, catalog: FormCatalog,
                 concurrency: int = 32, clock: Callable[[], datetime] = utc_now) -> None:
        self._sessions = sessions
        self._client = client
        self._catalog = catalog
        self._clock = clock
        self.presence = Presence(sessions, clock)
        self._registered = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._limit = asyncio.Semaphore(concurrency)
        self._stopping = False
        self._next_due: datetime | None = None  # when the first command held for later falls due

    def wake(self) -> None:
        """New commands were committed: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Start the background loop (and the heartbeat that tells other dispatchers we live)."""
        self._task = asyncio.create_task(self._run(), name="survey-bot-dispatcher")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop polling; let in-flight sends finish within `grace` seconds (unsent ones stay in the outbox and
        are due for the other dispatchers as soon as this one has left)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, grace)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._registered:
            await self.presence.leave()
            self._registered = False

    async def _register(self) -> None:
        """Join the live dispatchers (and retire any that are gone) before the first claim."""
        await self.presence.beat()
        self.presence.start()
        self._registered = True

    async def _run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.run_once()
            except Exception:  # keep the loop alive; the next pass retries from the database
                log.exception("dispatcher pass failed")
                sent = 0
            if sent == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_seconds())
            self._wake.clear()

    def _idle_seconds(self) -> float:
        """How long to wait for a wake-up: until the first held command falls due, at most a poll."""
        if self._next_due is None:
            return POLL_SECONDS
        due_in = self._next_due - send_pacing.AHEAD - self._clock()
        return min(POLL_SECONDS, max(0.002, due_in.total_seconds()))

    async def run_once(self) -> int:
        """Claim what is due, send it, record the outcomes; return how many commands were handled.

        A pass costs two transactions whatever its size: one claims (and skips what is pointless), one
        records every answer. Per command, they had cost three, each waiting its turn for SQLite's one
        connection behind the intake's batches.
        """
        if not self._registered:
            await self._register()
        now = self._clock()
        async with self._sessions() as session, session.begin():
            claimed = await outbox.claim_due(session, now, self.presence.identity.id, ahead=send_pacing.AHEAD)
            held, turns = await send_pacing.pace_dials(session, claimed, self._clock)  # the campaigns' rates
            claimed = [row for row in claimed if row.command_id not in held]
            facts = await outbox.call_facts(session, (row.response_id for row in claimed))
            pointless = [row.command_id for row in claimed if _call_ended(row, facts)]
            await outbox.mark_many_done(session, pointless, "skipped", "call had ended", now)
            cancelled = await cancelled_dials(session, (row.response_id for row in claimed if row.action == "dial"
                                                        and row.command_id not in pointless and row.response_id))
            for row in claimed:  # a cancelled campaign's dial: never sent; tried before (and failed), a technical end
                if row.action == "dial" and row.response_id in cancelled:
                    pointless.append(row.command_id)
                    await self._record_refusal(session, row, SendResult(False, detail="campaign cancelled"), now,
                                               "skipped", cause=None if row.outcome else NOT_DIALLED)
            await outbox.clear_arguments(session, [row.command_id for row in claimed
                                                   if row.command_id in pointless and sealed_arguments(row.arguments)])
            self._next_due = await outbox.next_due(session, self._clock())
        for row in claimed:
            if row.command_id in pointless:
                metrics.command(row.action, "skipped")
        to_send = [row for row in claimed if row.command_id not in pointless]
        if to_send:
            results = await asyncio.gather(*(self._send(row, facts, turns.get(row.command_id)) for row in to_send))
            await self._record(list(zip(to_send, results, strict=True)))
        return len(claimed)

    async def _send(self, row: Command, facts: dict[str, outbox.CallFacts], turn: datetime | None) -> SendResult:
        if turn is not None:  # a campaign dial claimed a moment before its turn: not a moment sooner
            await asyncio.sleep(max(0.0, (turn - self._clock()).total_seconds()))
        known = facts.get(row.response_id or "")
        call_control_id = row.call_control_id or (known.call_control_id if known else None)
        async with self._limit:
            with _context(row, call_control_id):
                return await send_command(self._client, row.action, call_control_id, row.command_id,
                                          open_arguments(row.arguments))

    async def _record(self, outcomes: list[tuple[Command, SendResult]]) -> None:
        """Record how Telnyx answered each command of a pass, in one transaction.

        In response id order: the webhook batches lock their responses in id order (storage.statements), and a
        dispatcher updating them in the outbox's order deadlocked with them on PostgreSQL (a pass aborted, its
        sends claimed until the lease ran out, then sent again)."""
        now = self._clock()
        outcomes = sorted(outcomes, key=lambda outcome: outcome[0].response_id or "")
        statuses: list[tuple[str, str]] = []  # (action, status), counted once committed
        async with self._sessions() as session, session.begin():
            await outbox.mark_many_done(session, [row.command_id for row, result in outcomes if result.ok],
                                        "sent", "ok", now)
            for row, result in outcomes:
                with _context(row, row.call_control_id):
                    statuses.append((row.action, await self._record_one(session, row, result, now)))
            # a sealed command may hold a sensitive answer: once sent (or refused for good) it is not kept
            await outbox.clear_arguments(session, [row.command_id for (row, _r), (_a, status)
                                                   in zip(outcomes, statuses, strict=True)
                                                   if status in ("sent", "failed") and sealed_arguments(row.arguments)])
        for action, status in statuses:
            metrics.command(action, status)
        failed = any(status == "failed" for _action, status in statuses)
        if failed or any(result.ok for _row, result in outcomes):
            self.wake()

    async def _record_one(self, session: AsyncSession, row: Command, result: SendResult, now: datetime) -> str:
        """Record one answer (a sent command is already marked); return the command's status for the metrics."""
        if result.ok:
            log.debug("command %s sent", row.action)
            if row.action == "dial" and result.call_control_id and row.response_id:
                await link_dialled_call(session, row.response_id, result.call_control_id, now)
            return "sent"
        if result.retryable and not (row.action == "dial" and row.attempts >= MAX_DIAL_SENDS):
            backoff = min(MAX_BACKOFF, timedelta(seconds=2 ** min(row.attempts, 5)))
            await outbox.release_for_retry(session, row.command_id, _describe(result), now + backoff)
            log.warning("command %s %s not sent (%s); retrying in %ss", row.action, row.command_id,
                        _describe(result), backoff.total_seconds())
            return "retried"
        if await self._record_refusal(session, row, result, now):
            return "failed"
        # try the whole refusal again later rather than hold the claim
        await outbox.release_for_retry(session, row.command_id, _describe(result), now + MAX_BACKOFF)
        return "retried"

    async def _record_refusal(self, session: AsyncSession, row: Command, result: SendResult, now: datetime,
                              status: str = "failed", cause: str | None = None) -> bool:
        """Mark a refused command failed (or skipped) and let the flow react, together; if the flow fails, neither
        happens (and the caller puts the command back, to be sent, and perhaps refused, again later)."""
        try:
            async with session.begin_nested():
                await outbox.mark_done(session, row.command_id, status, _describe(result), now)
                failure_event = _failure_event(row, result, cause)
                if failure_event is not None:
                    await handle_event(session, failure_event, self._catalog)
        except Exception:
            log.exception("recording the refusal of command %s %s failed", row.action, row.command_id)
            return False
        return True


def _context(row: Command, call_control_id: str | None) -> contextlib.AbstractContextManager[None]:
    return log_context(command_id=row.command_id, response_id=row.response_id, call_control_id=call_control_id,
                       event_id=row.event_id)


def _call_ended(row: Command, facts: dict[str, outbox.CallFacts]) -> bool:
    """Whether sending is pointless: the call hung up (a hangup still goes), or its response is gone (a cancelled
    campaign's dial, an attempt nobody answered)."""
    if row.response_id is None:
        return False
    known = facts.get(row.response_id)
    return known is None or (known.ended and row.action != "hangup")


def _describe(result: SendResult) -> str:
    parts = [str(result.status_code or "no response"), result.code or "", result.detail or ""]
    return " ".join(p for p in parts if p)[:2000]


def _failure_event(row: Command, result: SendResult, cause: str | None = None) -> Event | None:
    if row.response_id is None:
        return None
    payload = {"action": row.action, "step": row.step, "status_code": result.status_code,
               "code": result.code, "detail": result.detail, "call_control_id": row.call_control_id}
    if row.action == "dial":  # no call: the flow ends the response with this cause (telephony.client's rule)
        payload["hangup_cause"] = cause or dial_refusal_cause(result.code)
    client_state = {"r": row.response_id}
    return Event(id=f"command-failed:{row.command_id}", event_type="survey_bot.command_failed",
                 occurred_at=utc_now(), payload={**payload, "client_state": encode_client_state(client_state)},
                 raw="", client_state=client_state)
