"""One webhook event, inside the caller's transaction: record it once, update the response, decide the
next commands and put them in the outbox. Committing is the caller's job (see intake.py)."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.flow.decide import HANDLERS, next_commands
from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Command
from survey_bot.forms.model import Form, FormCatalog
from survey_bot.storage import store
from survey_bot.storage.form_versions import form_of_version, form_version_id
from survey_bot.storage.models import Response
from survey_bot.storage.response_cache import ResponseCache

__all__ = ["NeedsSavepoints", "Outcome", "handle_batch", "handle_event"]

log = logging.getLogger(__name__)





@dataclass(frozen=True)
class Outcome:
    """What handling an event did, for the HTTP answer and the logs."""

    state: str  # processed | duplicate | ignored
    commands: int = 0
    note: str | None = None


async def handle_event(session: AsyncSession, event: Event, catalog: FormCatalog,
                       now: datetime | None = None) -> Outcome:
    """Process one verified event exactly once; redeliveries change nothing."""
    now = now or datetime.now(UTC)
    if not await store.record_event(session, event, now):
        return Outcome("duplicate")
    response = await store.load_response(
        session, response_id=event.response_id, call_control_id=event.call_control_id
    )
    if response is None and event.event_type == "call.initiated":
        return await _start_inbound(session, event, catalog, now)
    if response is None:
        note = f"event {event.id} ({event.event_type}): no response for this call"
        await store.set_event_outcome(session, event.id, "ignored", note)
        return Outcome("ignored", note=note)
    if event.event_type == "call.initiated":
        _link_call(response, event)
    form = await form_of_version(session, catalog, response.form_id, response.form_version_id)
    decision = next_commands(event, store.state_of(response), form, now)
    store.apply_state(response, decision.state, now)
    queued = await store.enqueue_commands(
        session, decision.commands, response_id=response.id,
        call_control_id=response.call_control_id or event.call_control_id, event_id=event.id, now=now,
    )
    if event.event_type not in HANDLERS:  # recorded for the timeline; nothing in the flow depends on it
        await store.set_event_outcome(session, event.id, "ignored", "no action for this event type", response.id)
        return Outcome("ignored")
    await store.set_event_outcome(session, event.id, "processed", response_id=response.id)
    return Outcome("processed", len(queued))


@dataclass(frozen=True)
class _Inbound:
    """What a call.initiated with no response yet calls for: answering it with `form`, or not (`note` says why;
    `reject` whether to refuse the call rather than ignore the event)."""

    form: Form | None
    to_number: str | None = None
    note: str | None = None
    reject: bool = False


_REJECT = Command("reject", {"cause": "CALL_REJECTED"}, "reject")


def _inbound(event: Event, catalog: FormCatalog) -> _Inbound:
    """The decision both paths (one event, a batch) make for a call.initiated that has no response yet."""
    if event.payload.get("direction") != "incoming":
        return _Inbound(None, note=f"event {event.id}: outgoing call.initiated for a call survey-bot did not dial")
    to_number = _text(event.payload.get("to"))
    form = catalog.for_number(to_number)
    if form is None:
        note = f"no form answers {to_number or 'an unknown number'} and SURVEY_BOT_DEFAULT_FORM is not set: rejected"
        return _Inbound(None, to_number, note=note, reject=True)
    return _Inbound(form, to_number)


async def _start_inbound(session: AsyncSession, event: Event, catalog: FormCatalog, now: datetime) -> Outcome:
    payload = event.payload
    inbound = _inbound(event, catalog)
    if inbound.reject:
        queued = await store.enqueue_commands(session, [_REJECT], response_id=None,
                                              call_control_id=event.call_control_id, event_id=event.id, now=now)
        await store.set_event_outcome(session, event.id, "processed", inbound.note)
        return Outcome("processed", len(queued), inbound.note)
    form, to_number = inbound.form, inbound.to_number
    if form is None:
        await store.set_event_outcome(session, event.id, "ignored", inbound.note)
        return Outcome("ignored", note=inbound.note)
    existing = await session.scalar(select(Response.id).where(Response.call_control_id == event.call_control_id))
    if existing is not None:  # a second call.initiated (new event id) for a call we already answer
        await store.set_event_outcome(session, event.id, "ignored", "call already has a response", existing)
        return Outcome("ignored")
    response = await store.create_response(
        session, form, direction="incoming", now=now, call_control_id=event.call_control_id,
        call_session_id=_text(payload.get("call_session_id")), call_leg_id=_text(payload.get("call_leg_id")),
        from_number=_text(payload.get("from")), to_number=to_number,
    )
    decision = next_commands(event, store.state_of(response), form, now)
    store.apply_state(response, decision.state, now)
    queued = await store.enqueue_commands(session, decision.commands, response_id=response.id,
                                          call_control_id=event.call_control_id, event_id=event.id, now=now)
    await store.set_event_outcome(session, event.id, "processed", response_id=response.id)
    return Outcome("processed", len(queued))


def _link_call(response: Response, event: Event) -> None:
    """An outbound call's first webhook: remember Telnyx's ids for the response we dialled."""
    payload = event.payload
    response.call_control_id = response.call_control_id or event.call_control_id
    response.call_session_id = response.call_session_id or _text(payload.get("call_session_id"))
    response.call_leg_id = response.call_leg_id or _text(payload.get("call_leg_id"))


def _text(value: object) -> str | None:
    return str(value)[:255] if isinstance(value, str) and value else None


# ---- many events, one transaction: the SQLite group-commit path ---------------------------------------------


class NeedsSavepoints(Exception):
    """The batch holds an event only handle_event's path covers; process it event by event instead."""


@dataclass
class _Batch:
    """What a batch has read and decided so far: responses by id and by call, and the rows to write."""

    by_id: dict[str, store.ResponseRecord]
    by_call: dict[str, store.ResponseRecord]
    writes: store.BatchWrites = field(default_factory=store.BatchWrites)
    due: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)  # (result index, command rows)

    def keep(self, record: store.ResponseRecord, changed: set[str], *, new: bool = False,
             linked: bool = False) -> None:
        """Hold `record` as the response's latest version; `changed` names the state fields to write."""
        self.by_id[record.id] = record
        if record.call_control_id:
            self.by_call[record.call_control_id] = record
        if new or record.id in self.writes.new_responses:
            self.writes.new_responses[record.id] = record
        elif changed or linked or record.id in self.writes.changed_responses:
            self.writes.changed_responses[record.id] = record
            self.writes.changed_fields.setdefault(record.id, set()).update(changed)


async def handle_batch(session: AsyncSession, events: Sequence[Event], catalog: FormCatalog,
                       cache: ResponseCache | None = None) -> list[Outcome | Exception]:
    """Process events in arrival order in the caller's transaction, as handle_event would one after another.

    Why: per event, handle_event costs a savepoint and five ORM statements, each a trip through aiosqlite's
    thread; here a batch costs two reads and four executemany writes, whatever its size. Only valid while the
    caller holds the database's write lock (SQLite's BEGIN IMMEDIATE), so nothing changes between the reads
    and the writes. An event whose decision raises leaves no trace, like a rolled-back savepoint.
    Raises NeedsSavepoints (before writing anything) for shapes only handle_event covers. With a `cache`, the
    batch's records are staged in it: the caller commits or discards them with the transaction.
    """
    if any(e.event_type == "call.initiated" and e.call_control_id is None for e in events):
        raise NeedsSavepoints("call.initiated without a call_control_id")
    recorded = await store.recorded_event_ids(session, [e.id for e in events])
    response_ids = {e.response_id for e in events if e.response_id}
    calls = {e.call_control_id for e in events}
    records = await store.load_response_records(session, response_ids, calls, cache)
    batch = _Batch({r.id: r for r in records}, {r.call_control_id: r for r in records if r.call_control_id})
    results: list[Outcome | Exception] = []
    for event in events:
        if event.id in recorded:
            results.append(Outcome("duplicate"))
            continue
        try:
            outcome = await _decide(session, batch, event, catalog, len(results), datetime.now(UTC))
        except Exception as exc:  # this event only: nothing of it is kept
            log.exception("event %s (%s) failed", event.id, event.event_type)
            results.append(exc)
            continue
        recorded.add(event.id)
        results.append(outcome)
    await _queue_commands(session, batch, results)
    await store.write_batch(session, batch.writes)
    if cache is not None:
        cache.stage(batch.by_id.values())
    return results


async def _decide(session: AsyncSession, batch: _Batch, event: Event, catalog: FormCatalog, index: int,
                  now: datetime) -> Outcome:
    """handle_event's decisions for one event, kept in `batch` (nothing is written yet)."""
    record: store.ResponseRecord | None = None
    if event.response_id:
        record = batch.by_id.get(event.response_id)
    elif event.call_control_id:
        record = batch.by_call.get(event.call_control_id)
    if record is None and event.event_type == "call.initiated":
        return await _start_inbound_in_batch(session, batch, event, catalog, index, now)
    if record is None:
        note = f"event {event.id} ({event.event_type}): no response for this call"
        _record_event(batch, event, now, "ignored", note, None)
        return Outcome("ignored", note=note)
    linked = False
    if event.event_type == "call.initiated":
        payload = event.payload
        unlinked = record
        record = dataclasses.replace(
            record, call_control_id=record.call_control_id or event.call_control_id,
            call_session_id=record.call_session_id or _text(payload.get("call_session_id")),
            call_leg_id=record.call_leg_id or _text(payload.get("call_leg_id")))
        linked = record != unlinked
    form = await form_of_version(session, catalog, record.form_id, record.form_version_id)
    decision = next_commands(event, record.state, form, now)
    changed = store.changed_fields(record.state, decision.state)
    record = dataclasses.replace(record, state=decision.state, updated_at=now if changed else record.updated_at)
    batch.keep(record, changed, linked=linked)
    _due(batch, index, event, decision.commands, record.id, record.call_control_id or event.call_control_id, now)
    if event.event_type not in HANDLERS:
        _record_event(batch, event, now, "ignored", "no action for this event type", record.id)
        return Outcome("ignored")
    _record_event(batch, event, now, "processed", None, record.id)
    return Outcome("processed")  # the command count is filled in by _queue_commands


async def _start_inbound_in_batch(session: AsyncSession, batch: _Batch, event: Event, catalog: FormCatalog,
                                  index: int, now: datetime) -> Outcome:
    payload = event.payload
    inbound = _inbound(event, catalog)
    if inbound.reject:
        _due(batch, index, event, [_REJECT], None, event.call_control_id, now)
        _record_event(batch, event, now, "processed", inbound.note, None)
        return Outcome("processed", note=inbound.note)
    form, to_number = inbound.form, inbound.to_number
    if form is None:
        _record_event(batch, event, now, "ignored", inbound.note, None)
        return Outcome("ignored", note=inbound.note)
    existing = batch.by_call.get(event.call_control_id or "")
    if existing is not None:  # a second call.initiated (new event id) for a call we already answer
        _record_event(batch, event, now, "ignored", "call already has a response", existing.id)
        return Outcome("ignored")
    response_id = str(uuid.uuid4())
    state = CallState(response_id=response_id, direction="incoming")
    decision = next_commands(event, state, form, now)
    record = store.ResponseRecord(
        id=response_id, form_id=form.form_id, form_version_id=await form_version_id(session, form, now),
        direction="incoming", call_control_id=event.call_control_id,
        call_session_id=_text(payload.get("call_session_id")), call_leg_id=_text(payload.get("call_leg_id")),
        started_at=now, updated_at=now, state=decision.state, from_number=_text(payload.get("from")),
        to_number=to_number,
    )
    batch.keep(record, set(), new=True)
    _due(batch, index, event, decision.commands, record.id, event.call_control_id, now)
    _record_event(batch, event, now, "processed", None, record.id)
    return Outcome("processed")


def _record_event(batch: _Batch, event: Event, now: datetime, state: str, note: str | None,
                  response_id: str | None) -> None:
    """The event's row as record_event then set_event_outcome would leave it."""
    batch.writes.events.append({
        "id": event.id, "event_type": event.event_type, "call_control_id": event.call_control_id,
        "response_id": response_id if response_id is not None else event.response_id,
        "occurred_at": event.occurred_at, "received_at": now, "body": event.raw, "state": state, "note": note,
    })


def _due(batch: _Batch, index: int, event: Event, commands: Sequence[Command], response_id: str | None,
         call_control_id: str | None, now: datetime) -> None:
    call_key = response_id or call_control_id or ""
    rows = [{"command_id": store.command_id_for(call_key, c.step), "response_id": response_id,
             "call_control_id": call_control_id, "event_id": event.id, "action": c.action, "step": c.step,
             "arguments": c.arguments, "status": "pending", "attempts": 0, "outcome": None, "created_at": now,
             "claimed_at": None, "sent_at": None} for c in commands]
    if rows:
        batch.due.append((index, rows))


async def _queue_commands(session: AsyncSession, batch: _Batch, results: list[Outcome | Exception]) -> None:
    """Keep each command the outbox does not hold yet (a call's step is taken once), in event order."""
    taken = await store.existing_command_ids(session, (r["command_id"] for _, rows in batch.due for r in rows))
    for index, rows in batch.due:
        queued = 0
        for row in rows:
            if row["command_id"] not in taken:
                taken.add(row["command_id"])
                batch.writes.commands.append(row)
                queued += 1
        outcome = results[index]
        if isinstance(outcome, Outcome) and outcome.state == "processed":
            results[index] = dataclasses.replace(outcome, commands=queued)
