"""Data access for the webhook path and the outbox. Functions take a session and never commit: the
caller owns the transaction, so an event, the state it changed and the commands it made due commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Command
from survey_bot.forms.model import Form
from survey_bot.storage.form_versions import form_version_id
from survey_bot.storage.models import Command as CommandRow
from survey_bot.storage.models import Response, WebhookEvent
from survey_bot.storage.response_cache import IDENTITY_FIELDS, ResponseCache

__all__ = [
    "BatchWrites",
    "ResponseRecord",
    "apply_state",
    "changed_fields",
    "command_id_for",
    "create_response",
    "enqueue_commands",
    "existing_command_ids",
    "load_response",
    "load_response_records",
    "record_event",
    "recorded_event_ids",
    "set_event_outcome",
    "state_of",
    "write_batch",
]

COMMAND_NAMESPACE = uuid.UUID("6f1f8a52-52b1-4d0c-9a43-6c0f1ad3c2e1")
_RESPONSES = cast(Table, Response.__table__)
_EVENTS = cast(Table, WebhookEvent.__table__)
_COMMANDS = cast(Table, CommandRow.__table__)


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@dataclass(frozen=True)
class _Inserts:
    """The per-event idempotent inserts of one dialect, built once (values come as parameters)."""

    event: Any
    command: Any


_INSERTS = {
    name: _Inserts(
        event=make(_EVENTS).on_conflict_do_nothing(index_elements=["id"]),
        command=make(_COMMANDS).on_conflict_do_nothing(index_elements=["command_id"]),
    )
    for name, make in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_UPDATE_EVENT = update(_EVENTS).where(_EVENTS.c.id == bindparam("_id"))


def _inserts(session: AsyncSession) -> _Inserts:
    return _INSERTS["postgresql" if session.bind is not None and session.bind.dialect.name == "postgresql"
                    else "sqlite"]


# The per-event statements below are built once and run as Core statements on the session's connection, on
# the tables: built per call as ORM statements on the classes, they were cache-keyed every time, autoflushed
# the session and ran the ORM's bulk-DML machinery (evaluating the WHERE against loaded objects: there are
# none, events and commands are only written here), a third of the per-event path's Python time on
# PostgreSQL (bench/ingest.py). Same SQL, same transaction.


async def record_event(session: AsyncSession, event: Event, now: datetime) -> bool:
    """Record a webhook event once; False when its id was already recorded (a redelivery)."""
    result = await (await session.connection()).execute(_inserts(session).event, {
        "id": event.id,
        "event_type": event.event_type,
        "call_control_id": event.call_control_id,
        "response_id": event.response_id,
        "occurred_at": event.occurred_at,
        "received_at": now,
        "body": event.raw,
        "state": "received",
    })
    return bool(getattr(result, "rowcount", 0))


async def set_event_outcome(
    session: AsyncSession, event_id: str, state: str, note: str | None = None, response_id: str | None = None
) -> None:
    """Say what became of an event: processed, ignored (with why) or rejected."""
    values: dict[str, Any] = {"_id": event_id, "state": state, "note": note}
    if response_id is not None:
        values["response_id"] = response_id
    await (await session.connection()).execute(_UPDATE_EVENT, values)


async def create_response(
    session: AsyncSession,
    form: Form,
    *,
    direction: str,
    now: datetime,
    call_control_id: str | None = None,
    call_session_id: str | None = None,
    call_leg_id: str | None = None,
    from_number: str | None = None,
    to_number: str | None = None,
) -> Response:
    """Start a response to `form` for one call."""
    response = Response(
        id=str(uuid.uuid4()),
        form_id=form.form_id,
        form_version_id=await form_version_id(session, form, now),
        call_control_id=call_control_id,
        call_session_id=call_session_id,
        call_leg_id=call_leg_id,
        direction=direction,
        from_number=from_number,
        to_number=to_number,
        status="in_progress",
        answers={},
        sources={},
        answer_times={},
        message_history=[],
        keypad_attempts=[],
        keypad_queue=None,
        failures=[],
        started_at=now,
        updated_at=now,
    )
    session.add(response)
    await session.flush()
    return response


async def load_response(
    session: AsyncSession, *, response_id: str | None, call_control_id: str | None
) -> Response | None:
    """Load a call's response locked for update (a row lock on PostgreSQL; SQLite holds the write lock)."""
    if response_id:
        condition = Response.id == response_id
    elif call_control_id:
        condition = Response.call_control_id == call_control_id
    else:
        return None
    statement = select(Response).where(condition).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


_STATE_FIELDS = (
    "status", "answers", "sources", "answer_times", "message_history", "message_history_at",
    "keypad_attempts", "keypad_queue", "current_field", "ai_status", "failures", "hangup_cause",
    "hangup_source", "answered_at", "ended_at", "completed_at",
)


def state_of(response: Response) -> CallState:
    """The flow's view of a stored response."""
    state = CallState(response_id=response.id, direction=response.direction)
    for name in _STATE_FIELDS:
        setattr(state, name, getattr(response, name))
    return state


def apply_state(response: Response, state: CallState, now: datetime) -> None:
    """Copy what the flow changed back onto the stored response."""
    changed = False
    for name in _STATE_FIELDS:
        value = getattr(state, name)
        if getattr(response, name) != value:
            setattr(response, name, value)
            changed = True
    if changed:
        response.updated_at = now


def command_id_for(call_key: str, step: str) -> str:
    """A command id derived from the call and the conversation step, stable across redeliveries and restarts."""
    return str(uuid.uuid5(COMMAND_NAMESPACE, f"{call_key}|{step}"))


async def enqueue_commands(
    session: AsyncSession,
    commands: Sequence[Command],
    *,
    response_id: str | None,
    call_control_id: str | None,
    event_id: str | None,
    now: datetime,
) -> list[str]:
    """Put commands in the outbox; one already there for the same call and step is not added again."""
    ids: list[str] = []
    call_key = response_id or call_control_id or ""
    connection = await session.connection()
    for command in commands:
        command_id = command_id_for(call_key, command.step)
        result = await connection.execute(_inserts(session).command, {
            "command_id": command_id,
            "response_id": response_id,
            "call_control_id": call_control_id,
            "event_id": event_id,
            "action": command.action,
            "step": command.step,
            "arguments": command.arguments,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        })
        if getattr(result, "rowcount", 0):
            ids.append(command_id)
    return ids


def pending_call_keys(rows: Iterable[CommandRow]) -> list[str]:
    """Distinct call keys of outbox rows, in first-seen order."""
    return list(dict.fromkeys(row.response_id or row.call_control_id or "" for row in rows))


# ---- the group-commit batch path: plain rows in, a fixed number of statements out --------------------------
# Per event, the ORM path above costs a savepoint and five statements; on SQLite each is a trip through
# aiosqlite's thread and SQLAlchemy's ORM machinery, which capped intake near 200 events/s. A batch instead
# reads what it needs in two queries and writes everything in four executemany statements (see
# processing.handle_batch). Only valid while the caller holds the write lock (SQLite's BEGIN IMMEDIATE).

_RECORD_FIELDS = IDENTITY_FIELDS


@dataclass
class ResponseRecord:
    """A response row as the batch path holds it: its identity, its call ids and the flow's state."""

    id: str
    form_id: str
    form_version_id: int
    direction: str
    call_control_id: str | None
    call_session_id: str | None
    call_leg_id: str | None
    started_at: datetime
    updated_at: datetime
    state: CallState
    from_number: str | None = None  # only written when the record is new
    to_number: str | None = None


@dataclass
class BatchWrites:
    """Everything a batch writes, in event order; for changed responses, which state fields changed."""

    events: list[dict[str, Any]] = field(default_factory=list)
    new_responses: dict[str, ResponseRecord] = field(default_factory=dict)
    changed_responses: dict[str, ResponseRecord] = field(default_factory=dict)
    changed_fields: dict[str, set[str]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)


def changed_fields(old: CallState, new: CallState) -> set[str]:
    """The state fields the flow changed (those apply_state would write)."""
    return {name for name in _STATE_FIELDS if getattr(old, name) != getattr(new, name)}


# Built once: building and cache-keying these per batch cost more than running them.
_RECORDED = select(_EVENTS.c.id).where(_EVENTS.c.id.in_(bindparam("ids", expanding=True)))
_EXISTING_COMMANDS = select(_COMMANDS.c.command_id).where(
    _COMMANDS.c.command_id.in_(bindparam("ids", expanding=True)))
_RESPONSES_BY_ID_OR_CALL = select(_RESPONSES).where(or_(
    _RESPONSES.c.id.in_(bindparam("ids", expanding=True)),
    _RESPONSES.c.call_control_id.in_(bindparam("calls", expanding=True))))
_IDENTITIES_BY_ID_OR_CALL = select(*(_RESPONSES.c[name] for name in IDENTITY_FIELDS)).where(or_(
    _RESPONSES.c.id.in_(bindparam("ids", expanding=True)),
    _RESPONSES.c.call_control_id.in_(bindparam("calls", expanding=True))))
_UPDATE_RESPONSE = update(_RESPONSES).where(_RESPONSES.c.id == bindparam("_id"))  # SET: the parameters' keys
_CALL_FIELDS = ("call_control_id", "call_session_id", "call_leg_id", "updated_at")

# The batch path runs Core statements on the session's connection: the ORM session's per-statement work
# (bind lookup, ORM execution hooks) bought nothing for plain table statements.


async def recorded_event_ids(session: AsyncSession, ids: Sequence[str]) -> set[str]:
    """Which of these event ids are already recorded."""
    connection = await session.connection()
    return set((await connection.scalars(_RECORDED, {"ids": list(set(ids))})).all())


async def existing_command_ids(session: AsyncSession, ids: Iterable[str]) -> set[str]:
    """Which of these command ids are already in the outbox."""
    wanted = list(set(ids))
    if not wanted:
        return set()
    connection = await session.connection()
    return set((await connection.scalars(_EXISTING_COMMANDS, {"ids": wanted})).all())


async def load_response_records(
    session: AsyncSession, response_ids: Iterable[str], call_control_ids: Iterable[str | None],
    cache: ResponseCache | None = None,
) -> list[ResponseRecord]:
    """Load the responses named by id or by call; those `cache` holds unchanged are not decoded again."""
    by_id, by_call = list(set(response_ids)), list({c for c in call_control_ids if c})
    if not by_id and not by_call:
        return []
    connection = await session.connection()
    if cache is None:
        rows = (await connection.execute(_RESPONSES_BY_ID_OR_CALL, {"ids": by_id, "calls": by_call})).all()
        return [_record_of(row) for row in rows]
    records, stale = [], []
    for identity in (await connection.execute(_IDENTITIES_BY_ID_OR_CALL, {"ids": by_id, "calls": by_call})).all():
        cached = cache.current(identity)
        if cached is None:
            stale.append(identity.id)
        else:
            records.append(cached)
    if stale:
        rows = (await connection.execute(_RESPONSES_BY_ID_OR_CALL, {"ids": stale, "calls": []})).all()
        records.extend(_record_of(row) for row in rows)
    return records


def _record_of(row: Any) -> ResponseRecord:
    state = CallState(response_id=row.id, direction=row.direction)
    for name in _STATE_FIELDS:
        setattr(state, name, getattr(row, name))
    return ResponseRecord(**{name: getattr(row, name) for name in _RECORD_FIELDS}, state=state)


def _values(record: ResponseRecord, names: Iterable[str]) -> dict[str, Any]:
    values = {name: getattr(record.state, name) for name in names}
    values.update((name, getattr(record, name)) for name in _CALL_FIELDS)
    return values


async def write_batch(session: AsyncSession, writes: BatchWrites) -> None:
    """Write a batch's new and changed responses, its events and its commands (executemany each)."""
    connection = await session.connection()
    if writes.new_responses:
        await connection.execute(insert(_RESPONSES), [
            {**_values(r, _STATE_FIELDS), "id": r.id, "form_id": r.form_id, "form_version_id": r.form_version_id,
             "direction": r.direction, "from_number": r.from_number, "to_number": r.to_number,
             "started_at": r.started_at} for r in writes.new_responses.values()
        ])
    # Only the fields that changed: most events change the transcript alone, and re-encoding every JSON
    # column of every touched response was a fifth of the writes' cost. One executemany per set of fields.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for response_id, record in writes.changed_responses.items():
        names = tuple(sorted(writes.changed_fields.get(response_id, ())))
        groups.setdefault(names, []).append({**_values(record, names), "_id": response_id})
    for rows in groups.values():
        await connection.execute(_UPDATE_RESPONSE, rows)
    if writes.events:
        await connection.execute(insert(_EVENTS), writes.events)
    if writes.commands:
        await connection.execute(insert(_COMMANDS), writes.commands)
