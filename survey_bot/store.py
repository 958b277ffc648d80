"""Data access for the webhook path and the outbox. Functions take a session and never commit: the
caller owns the transaction, so an event, the state it changed and the commands it made due commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .events import Event
from .flow import CallState, Command
from .forms import Form
from .models import Command as CommandRow
from .models import FormVersion, Response, WebhookEvent

__all__ = [
    "apply_state",
    "command_id_for",
    "create_response",
    "enqueue_commands",
    "form_version_id",
    "load_response",
    "record_event",
    "set_event_outcome",
    "state_of",
]

COMMAND_NAMESPACE = uuid.UUID("6f1f8a52-52b1-4d0c-9a43-6c0f1ad3c2e1")


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def record_event(session: AsyncSession, event: Event, now: datetime) -> bool:
    """Record a webhook event once; False when its id was already recorded (a redelivery)."""
    statement = _insert(session, WebhookEvent).values(
        id=event.id,
        event_type=event.event_type,
        call_control_id=event.call_control_id,
        response_id=event.response_id,
        occurred_at=event.occurred_at,
        received_at=now,
        body=event.raw,
        state="received",
    ).on_conflict_do_nothing(index_elements=["id"])
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def set_event_outcome(
    session: AsyncSession, event_id: str, state: str, note: str | None = None, response_id: str | None = None
) -> None:
    """Say what became of an event: processed, ignored (with why) or rejected."""
    values: dict[str, Any] = {"state": state, "note": note}
    if response_id is not None:
        values["response_id"] = response_id
    await session.execute(update(WebhookEvent).where(WebhookEvent.id == event_id).values(**values))


_version_ids: dict[tuple[str, str, str], int] = {}


async def form_version_id(session: AsyncSession, form: Form, now: datetime) -> int:
    """The id of this exact form version, stored on first use (cached per database)."""
    key = (str(getattr(session.bind, "url", "")), form.form_id, form.version)
    if key in _version_ids:
        return _version_ids[key]
    statement = _insert(session, FormVersion).values(
        form_id=form.form_id, version=form.version, document=dict(form.document), created_at=now
    ).on_conflict_do_nothing(index_elements=["form_id", "version"])
    await session.execute(statement)
    found = await session.scalar(
        select(FormVersion.id).where(FormVersion.form_id == form.form_id, FormVersion.version == form.version)
    )
    assert found is not None
    _version_ids[key] = found
    return found


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
    for command in commands:
        command_id = command_id_for(call_key, command.step)
        statement = _insert(session, CommandRow).values(
            command_id=command_id,
            response_id=response_id,
            call_control_id=call_control_id,
            event_id=event_id,
            action=command.action,
            step=command.step,
            arguments=command.arguments,
            status="pending",
            attempts=0,
            created_at=now,
        ).on_conflict_do_nothing(index_elements=["command_id"])
        result = await session.execute(statement)
        if getattr(result, "rowcount", 0):
            ids.append(command_id)
    return ids


def pending_call_keys(rows: Iterable[CommandRow]) -> list[str]:
    """Distinct call keys of outbox rows, in first-seen order."""
    return list(dict.fromkeys(row.response_id or row.call_control_id or "" for row in rows))
