"""The outbox: commands committed with the webhook that made them due, each under a command id derived from the
call and the conversation step (a redelivery or a restart never adds it twice); claimed by a dispatcher (one
per call at a time, oldest first, across processes) and marked with how Telnyx answered.
Functions take a session and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from survey_bot.storage import statements as sql
from survey_bot.storage.models import Command, DispatcherProcess, Response
from survey_bot.utc import as_utc

__all__ = ["LIVE_LEASE", "CallFacts", "Request", "call_facts", "claim_due", "clear_arguments", "command_id_for",
           "command_rows", "enqueue", "existing_command_ids", "mark_done", "mark_many_done", "next_due",
           "release_for_retry"]

COMMAND_NAMESPACE = uuid.UUID("6f1f8a52-52b1-4d0c-9a43-6c0f1ad3c2e1")

# A claim held this long is due again even while its dispatcher lives (a send takes at most the SDK's timeout
# times its attempts, about 17 s by default; a pass whose answers could not be recorded leaves its claims).
LIVE_LEASE = timedelta(seconds=60)
OPEN = ("pending", "sending")


@dataclass(frozen=True)
class Request:
    """A command as the provider will receive it: the flow's step, the provider's action and its arguments."""

    step: str
    action: str
    arguments: dict[str, Any]


def command_id_for(call_key: str, step: str) -> str:
    """A command id derived from the call and the conversation step, stable across redeliveries and restarts."""
    return str(uuid.uuid5(COMMAND_NAMESPACE, f"{call_key}|{step}"))


def command_rows(requests: Sequence[Request], *, response_id: str | None, call_control_id: str | None,
                 event_id: str | None, now: datetime, calls: int = 1) -> list[dict[str, Any]]:
    """Outbox rows for the requests one event made due (keyed by the response, else by the call; a response's
    second call on (`calls`, a resumed breakoff) by the response and its call's number)."""
    call_key = response_id or call_control_id or ""
    call_key = f"{call_key}#{calls}" if calls > 1 else call_key
    return [{"command_id": command_id_for(call_key, r.step), "response_id": response_id,
             "call_control_id": call_control_id, "event_id": event_id, "action": r.action, "step": r.step,
             "arguments": r.arguments, "status": "pending", "attempts": 0, "outcome": None, "created_at": now,
             "claimed_at": None, "sent_at": None} for r in requests]


async def existing_command_ids(session: AsyncSession, ids: Iterable[str]) -> set[str]:
    """Which of these command ids are already in the outbox."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    connection = await session.connection()
    return set((await connection.scalars(sql.EXISTING_COMMANDS, {"ids": wanted})).all())


async def enqueue(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Put command rows in the outbox, but not one already there for the same step; return the ids added."""
    taken = await existing_command_ids(session, (row["command_id"] for row in rows))
    fresh = [row for row in rows if row["command_id"] not in taken]
    if fresh:
        await (await session.connection()).execute(sql.INSERT_COMMANDS, fresh)
    return [row["command_id"] for row in fresh]


def _call_key(row: Any) -> ColumnElement[str]:
    return func.coalesce(row.response_id, row.call_control_id)


async def claim_due(session: AsyncSession, now: datetime, claimer: str, limit: int = 100,
                    ahead: timedelta = timedelta(0)) -> list[Command]:
    """Claim, for `claimer`, the oldest open command of each call that is due now (or held for a moment within
    `ahead`: a campaign dial's turn, which the sender then waits for); later ones wait their turn.

    A command another dispatcher claimed is due again as soon as that dispatcher is no longer registered (it
    stopped, or another dispatcher found it gone: see dispatch.sender), or after LIVE_LEASE whoever holds it.
    """
    earlier = aliased(Command)
    blocked_by_earlier = exists().where(
        and_(_call_key(earlier) == _call_key(Command), earlier.id < Command.id, earlier.status.in_(OPEN))
    )
    live = select(DispatcherProcess.id).scalar_subquery()
    due = or_(
        and_(Command.status == "pending", or_(Command.claimed_at.is_(None), Command.claimed_at <= now + ahead)),
        and_(Command.status == "sending", or_(Command.claimed_by.is_(None), Command.claimed_by.not_in(live),
                                              Command.claimed_at <= now - LIVE_LEASE)),
    )
    statement = (
        select(Command).where(due, ~blocked_by_earlier).order_by(Command.id).limit(limit)
        .with_for_update(skip_locked=True, of=Command)
    )
    rows = list((await session.execute(statement)).scalars())
    for row in rows:
        row.status, row.claimed_at, row.claimed_by, row.attempts = "sending", now, claimer, row.attempts + 1
    return rows


async def next_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the first command held for later (a rate slot, a retry's backoff) falls due, if any is."""
    due = await session.scalar(select(Command.claimed_at).where(Command.status == "pending", Command.claimed_at > now)
                               .order_by(Command.claimed_at).limit(1))
    return as_utc(due) if due is not None else None


@dataclass(frozen=True)
class CallFacts:
    """What sending a response's command needs to know of its call."""

    ended: bool  # the call hung up: its commands are pointless (except a hangup)
    call_control_id: str | None


async def call_facts(session: AsyncSession, response_ids: Iterable[str | None]) -> dict[str, CallFacts]:
    """The call facts of these responses, by response id, in one query."""
    wanted = list({r for r in response_ids if r})
    if not wanted:
        return {}
    rows = await session.execute(
        select(Response.id, Response.ended_at, Response.call_control_id).where(Response.id.in_(wanted))
    )
    return {row.id: CallFacts(row.ended_at is not None, row.call_control_id) for row in rows}


async def mark_done(session: AsyncSession, command_id: str, status: str, outcome: str | None, now: datetime) -> None:
    """Record a command's final state: sent, failed or skipped."""
    values = {"status": status, "outcome": outcome, "sent_at": now if status == "sent" else None}
    await session.execute(update(Command).where(Command.command_id == command_id).values(**values))


async def mark_many_done(session: AsyncSession, command_ids: Sequence[str], status: str, outcome: str | None,
                         now: datetime) -> None:
    """mark_done for many commands with the same outcome, in one statement."""
    if command_ids:
        values = {"status": status, "outcome": outcome, "sent_at": now if status == "sent" else None}
        await session.execute(update(Command).where(Command.command_id.in_(list(command_ids))).values(**values))


async def release_for_retry(session: AsyncSession, command_id: str, outcome: str, not_before: datetime) -> None:
    """Telnyx could not be reached: put the command back, due again at `not_before`."""
    await session.execute(
        update(Command).where(Command.command_id == command_id)
        .values(status="pending", outcome=outcome, claimed_at=not_before)
    )


async def clear_arguments(session: AsyncSession, command_ids: Sequence[str]) -> None:
    """Forget the arguments of commands done with (sealed ones, that may hold a sensitive answer)."""
    if command_ids:
        await session.execute(update(Command).where(Command.command_id.in_(list(command_ids))).values(arguments={}))
