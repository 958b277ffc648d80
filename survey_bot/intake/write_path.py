"""The one write path: verified events in arrival order -> recorded once -> responses updated -> the flow's
decisions -> commands in the outbox, all inside the caller's transaction (committing is the caller's job).

A single event is a batch of one (handle_event). Per batch, whatever its size: the responses it touches are
locked and read (PostgreSQL: FOR UPDATE in id order, so batches on several workers and hosts queue instead
of deadlocking; SQLite: the transaction holds the database's write lock), the event ids already recorded are
skipped (a redelivery changes nothing), each event is decided in memory with the pure flow, and everything is
written in a fixed number of executemany statements (storage.batch). An event whose decision raises leaves
no trace, like a rolled-back savepoint. Two workers that take the same new event or the same new call at
once meet on a unique key at write time: the caller then redoes the batch event by event (intake.writer),
and the redo sees what the other worker committed. With a `cache` (the writer's, storage.response_cache),
responses it holds unchanged are not decoded again; records are staged and committed with the transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.flow.decide import HANDLERS, next_commands
from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Command
from survey_bot.flow.watchdog import WATCHDOG_EVENT, heard_since
from survey_bot.forms.model import Form, FormCatalog
from survey_bot.intake.campaign_end import CallNote, after_events, watched
from survey_bot.intake.redacting import Redactions, keypad_body, outbox_arguments
from survey_bot.observe.log_context import log_context
from survey_bot.storage import outbox, responses
from survey_bot.storage.batch import BatchWrites, write_batch
from survey_bot.storage.form_versions import form_of_version, form_version_id
from survey_bot.storage.records import ResponseRecord, new_record
from survey_bot.storage.response_cache import ResponseCache
from survey_bot.storage.webhook_events import event_row, recorded_event_ids
from survey_bot.storage.webhook_outbox import ResponseChange, enqueue_response_changes
from survey_bot.telephony.arguments import telnyx_request

__all__ = ["Outcome", "handle_batch", "handle_event"]

log = logging.getLogger(__name__)
_REPORTED = frozenset({"status", "answers", "sources"})  # what outbound webhooks report (response.*)


@dataclass(frozen=True)
class Outcome:
    """What handling an event did, for the HTTP answer and the logs."""

    state: str  # processed | duplicate | ignored
    commands: int = 0
    note: str | None = None
    response_id: str | None = None  # the response the event belongs to, when known (for the logs)


async def handle_event(session: AsyncSession, event: Event, catalog: FormCatalog) -> Outcome:
    """Process one verified event exactly once (a batch of one); raise what deciding it raised."""
    (result,) = await handle_batch(session, [event], catalog)
    if isinstance(result, Exception):
        raise result
    return result


@dataclass
class _Batch:
    """What a batch has read and decided so far: responses by id and by call, and the rows to write."""

    by_id: dict[str, ResponseRecord]
    by_call: dict[str, ResponseRecord]
    writes: BatchWrites = field(default_factory=BatchWrites)
    due: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)  # (result index, command rows)
    redactions: Redactions = field(default_factory=Redactions)  # responses with sensitive fields (intake.redacting)
    changes: list[ResponseChange] = field(default_factory=list)  # for the outbound webhooks, in event order
    calls: list[CallNote] = field(default_factory=list)  # outgoing calls' events a campaign attempt may need

    def keep(self, record: ResponseRecord, changed: set[str], *, new: bool = False,
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

    def record_event(self, event: Event, now: datetime, state: str, note: str | None,
                     response_id: str | None, body: str | None = None) -> None:
        """The event's row, as it will be stored (`body`: its body redacted before the first write)."""
        row = event_row(event, now, state, note, response_id)
        if body is not None:
            row["body"] = body
        self.writes.events.append(row)

    def due_commands(self, index: int, event: Event, commands: Sequence[Command], form: Form | None,
                     response_id: str | None, call_control_id: str | None, now: datetime,
                     state: CallState | None = None, calls: int = 1) -> None:
        """The commands event `index` made due, as the provider will receive them (as the outbox keeps them:
        sealed where they may hold a sensitive answer of `state`)."""
        requests = [outbox.Request(c.step, *telnyx_request(c, form)) for c in commands]
        if form is not None and state is not None and form.sensitive_names:
            requests = [dataclasses.replace(r, arguments=outbox_arguments(c, r.arguments, state, form))
                        for c, r in zip(commands, requests, strict=True)]
        rows = outbox.command_rows(requests, response_id=response_id, call_control_id=call_control_id,
                                   event_id=event.id, now=now, calls=calls)
        if rows:
            self.due.append((index, rows))


async def handle_batch(session: AsyncSession, events: Sequence[Event], catalog: FormCatalog,
                       cache: ResponseCache | None = None) -> list[Outcome | Exception]:
    """Process events in arrival order in the caller's transaction, each as if alone and in that order."""
    response_ids = {e.response_id for e in events if e.response_id}
    records = await responses.load_records(session, response_ids, (e.call_control_id for e in events), cache)
    recorded = await recorded_event_ids(session, [e.id for e in events])  # (after the locks: see the module doc)
    batch = _Batch({r.id: r for r in records}, {r.call_control_id: r for r in records if r.call_control_id})
    results: list[Outcome | Exception] = []
    for event in events:
        if event.id in recorded:
            results.append(Outcome("duplicate"))
            continue
        with log_context(event_id=event.id, call_control_id=event.call_control_id, response_id=event.response_id):
            try:
                outcome = await _decide(session, batch, event, catalog, len(results), datetime.now(UTC))
            except Exception as exc:  # this event only: nothing of it is kept
                log.exception("event %s (%s) failed", event.id, event.event_type)
                results.append(exc)
                continue
        recorded.add(event.id)
        results.append(outcome)
    await _queue_commands(session, batch, results)
    for record in await batch.redactions.apply(session, batch.writes, batch.by_id):
        batch.keep(record, {"message_history"})
    await enqueue_response_changes(session, batch.changes, datetime.now(UTC))  # committed with the change
    await write_batch(session, batch.writes)
    if batch.calls:
        await after_events(session, catalog, batch.calls, datetime.now(UTC))
    if cache is not None:
        cache.stage(batch.by_id.values())
    return results


async def _decide(session: AsyncSession, batch: _Batch, event: Event, catalog: FormCatalog, index: int,
                  now: datetime) -> Outcome:
    """One event's decisions, kept in `batch` (nothing is written yet)."""
    record: ResponseRecord | None = None
    if event.response_id:
        record = batch.by_id.get(event.response_id)
    elif event.call_control_id:
        record = batch.by_call.get(event.call_control_id)
    if record is None and event.event_type == "call.initiated":
        return await _start_inbound(session, batch, event, catalog, index, now)
    if record is None:
        note = f"event {event.id} ({event.event_type}): no response for this call"
        batch.record_event(event, now, "ignored", note, None)
        return Outcome("ignored", note=note)
    if event.event_type == WATCHDOG_EVENT and heard_since(event, record.updated_at):
        note = f"event {event.id}: the response changed after the watchdog looked, so its silence is over"
        batch.record_event(event, now, "ignored", note, record.id)
        return Outcome("ignored", response_id=record.id, note=note)
    linked = False
    if event.event_type == "call.initiated":  # an outbound call's first webhook: remember Telnyx's ids
        unlinked, payload = record, event.payload
        record = dataclasses.replace(
            record, call_control_id=record.call_control_id or event.call_control_id,
            call_session_id=record.call_session_id or _text(payload.get("call_session_id")),
            call_leg_id=record.call_leg_id or _text(payload.get("call_leg_id")))
        linked = record != unlinked
    stored = await form_of_version(session, catalog, record.form_id, record.form_version_id)
    form = stored.for_locale(record.state.locale)
    body = None
    if form.sensitive_names:
        batch.redactions.watch(record, form)
        body = keypad_body(event, record.state, form)
    old_status = record.state.status
    decision = next_commands(event, record.state, form, now)
    form = stored.for_locale(decision.state.locale)  # the commands speak the call's locale (a menu may choose it)
    if decision.state.outreach.get("opt_out") and not record.state.outreach.get("opt_out"):
        batch.writes.opt_outs[record.id] = now  # never called again, from this very commit
    changed = responses.changed_fields(record.state, decision.state)
    if changed & _REPORTED:
        batch.changes.append(ResponseChange(record.id, old_status, decision.state.status,
                                            bool(changed & {"answers", "sources"})))
    record = dataclasses.replace(record, state=decision.state, updated_at=now if changed else record.updated_at,
                                 sensitive=form.sensitive_names)
    batch.keep(record, changed, linked=linked)
    ended = "ended_at" in changed and decision.state.ended_at is not None
    if record.direction == "outgoing" and (ended or watched(event)):
        batch.calls.append(CallNote(event, record, ended))
    call_control_id = record.call_control_id or event.call_control_id
    batch.due_commands(index, event, decision.commands, form, record.id, call_control_id, now, decision.state,
                       record.state.calls)
    if event.event_type not in HANDLERS:  # recorded for the timeline; nothing in the flow depends on it
        batch.record_event(event, now, "ignored", "no action for this event type", record.id, body)
        return Outcome("ignored", response_id=record.id)
    batch.record_event(event, now, "processed", None, record.id, body)
    return Outcome("processed", response_id=record.id)  # the command count is filled in by _queue_commands


@dataclass(frozen=True)
class _Inbound:
    """What a call.initiated with no response yet calls for: answering it with `form`, or not (`note` says why;
    `reject` whether to refuse the call rather than ignore the event)."""

    form: Form | None
    to_number: str | None = None
    note: str | None = None
    reject: bool = False


_REJECT = Command("reject", "reject", details={"cause": "rejected"})


def _inbound(event: Event, catalog: FormCatalog) -> _Inbound:
    if event.payload.get("direction") != "incoming":
        return _Inbound(None, note=f"event {event.id}: outgoing call.initiated for a call survey-bot did not dial")
    if event.call_control_id is None:
        return _Inbound(None, note=f"event {event.id}: call.initiated without a call_control_id")
    to_number = _text(event.payload.get("to"))
    form = catalog.for_number(to_number)
    if form is None:
        note = f"no form answers {to_number or 'an unknown number'} and SURVEY_BOT_DEFAULT_FORM is not set: rejected"
        return _Inbound(None, to_number, note=note, reject=True)
    return _Inbound(form, to_number)


async def _start_inbound(session: AsyncSession, batch: _Batch, event: Event, catalog: FormCatalog, index: int,
                         now: datetime) -> Outcome:
    """A new inbound call: a response for the form its number reaches, and the answer."""
    inbound = _inbound(event, catalog)
    if inbound.reject:
        batch.due_commands(index, event, [_REJECT], None, None, event.call_control_id, now)
        batch.record_event(event, now, "processed", inbound.note, None)
        return Outcome("processed", note=inbound.note)
    if inbound.form is None:
        batch.record_event(event, now, "ignored", inbound.note, None)
        return Outcome("ignored", note=inbound.note)
    existing = batch.by_call.get(event.call_control_id or "")
    if existing is not None:  # a second call.initiated (new event id) for a call we already answer
        batch.record_event(event, now, "ignored", "call already has a response", existing.id)
        return Outcome("ignored")
    form, payload, response_id = inbound.form, event.payload, str(uuid.uuid4())
    # the called number's locale (x-numbers), else the language menu's choice ("" until then), else the default
    locale = form.number_locales.get(inbound.to_number or "") or ("" if form.language_menu else form.locales[0])
    state = CallState(response_id=response_id, direction="incoming", locale=locale)
    decision = next_commands(event, state, form, now)
    record = new_record(
        response_id, form.form_id, await form_version_id(session, form, now), "incoming", now,
        state=decision.state, call_control_id=event.call_control_id,
        call_session_id=_text(payload.get("call_session_id")), call_leg_id=_text(payload.get("call_leg_id")),
        from_number=_text(payload.get("from")), to_number=inbound.to_number, sensitive=form.sensitive_names)
    batch.keep(record, set(), new=True)
    batch.due_commands(index, event, decision.commands, form, record.id, event.call_control_id, now, decision.state)
    batch.record_event(event, now, "processed", None, record.id)
    return Outcome("processed", response_id=record.id)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


async def _queue_commands(session: AsyncSession, batch: _Batch, results: list[Outcome | Exception]) -> None:
    """Keep each command the outbox does not hold yet (a call's step is taken once), in event order."""
    taken = await outbox.existing_command_ids(session, (r["command_id"] for _, rows in batch.due for r in rows))
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
