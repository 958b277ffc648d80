"""Responses as the write path holds them: plain records (identity, call ids, the flow's state), read locked
and written back column by column.

The row <-> state mapping is derived from flow.state.STATE_FIELDS, the one declaration of a response's state;
a test checks that every state field is a column of `responses`. Sensitive answers are sealed here as a row is
written and opened as it is read (storage.sealing), so the flow only ever sees plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.flow.state import STATE_FIELDS, CallState
from survey_bot.storage import statements as sql
from survey_bot.storage.records import IDENTITY_FIELDS, ResponseRecord
from survey_bot.storage.response_cache import ResponseCache
from survey_bot.storage.sealing import (
    open_answers,
    open_attempts,
    open_readback,
    seal_answers,
    seal_attempts,
    seal_readback,
)

__all__ = ["changed_fields", "insert_responses", "insert_row", "link_dialled_call", "load_records", "record_of",
           "update_row"]

_CALL_FIELDS = ("call_control_id", "call_session_id", "call_leg_id", "updated_at")


def changed_fields(old: CallState, new: CallState) -> set[str]:
    """The state fields the flow changed (the columns to write)."""
    return {name for name in STATE_FIELDS if getattr(old, name) != getattr(new, name)}


async def load_records(session: AsyncSession, response_ids: Iterable[str], call_control_ids: Iterable[str | None],
                       cache: ResponseCache | None = None) -> list[ResponseRecord]:
    """Lock and load the responses named by id or by call; those `cache` holds unchanged are not decoded again."""
    by_id, by_call = sorted(set(response_ids)), sorted({c for c in call_control_ids if c})
    if not by_id and not by_call:
        return []
    connection = await session.connection()
    if cache is None:
        rows = (await connection.execute(sql.RESPONSES_BY_ID_OR_CALL, {"ids": by_id, "calls": by_call})).all()
        return [record_of(row) for row in rows]
    records, stale = [], []
    for identity in (await connection.execute(sql.IDENTITIES_BY_ID_OR_CALL, {"ids": by_id, "calls": by_call})).all():
        cached = cache.current(identity)
        if cached is None:
            stale.append(identity.id)
        else:
            records.append(cached)
    if stale:  # (already locked by the identity read)
        rows = (await connection.execute(sql.RESPONSES_BY_ID_OR_CALL, {"ids": stale, "calls": []})).all()
        records.extend(record_of(row) for row in rows)
    return records


def record_of(row: Any) -> ResponseRecord:
    """A response row (or ORM object) as the flow sees it: its state, answers opened."""
    state = CallState(response_id=row.id, direction=row.direction)
    for name in STATE_FIELDS:
        setattr(state, name, getattr(row, name))
    # the flow holds plain values; sealing is this module's
    state.answers, state.keypad_attempts = open_answers(state.answers), open_attempts(state.keypad_attempts)
    state.readback = open_readback(state.readback)
    return ResponseRecord(**{name: getattr(row, name) for name in IDENTITY_FIELDS}, state=state)


def _values(record: ResponseRecord, names: Iterable[str]) -> dict[str, Any]:
    values = {name: getattr(record.state, name) for name in names}
    if "answers" in values and record.sensitive:
        values["answers"] = seal_answers(values["answers"], record.sensitive)
    if "keypad_attempts" in values and record.sensitive:
        values["keypad_attempts"] = seal_attempts(values["keypad_attempts"], record.sensitive)
    if "readback" in values and record.sensitive:
        values["readback"] = seal_readback(values["readback"], record.sensitive)
    values.update((name, getattr(record, name)) for name in _CALL_FIELDS)
    return values


def insert_row(record: ResponseRecord) -> dict[str, Any]:
    """The whole row of a new response."""
    return {**_values(record, STATE_FIELDS), "id": record.id, "form_id": record.form_id,
            "form_version_id": record.form_version_id, "direction": record.direction,
            "from_number": record.from_number, "to_number": record.to_number, "started_at": record.started_at}


def update_row(record: ResponseRecord, names: Iterable[str]) -> dict[str, Any]:
    """The changed state columns of a stored response, its call ids and updated_at (for UPDATE_RESPONSE)."""
    return {**_values(record, names), "_id": record.id}


async def insert_responses(session: AsyncSession, records: Iterable[ResponseRecord]) -> None:
    """Store new responses."""
    rows = [insert_row(record) for record in records]
    if rows:
        await (await session.connection()).execute(sql.INSERT_RESPONSES, rows)


async def link_dialled_call(session: AsyncSession, response_id: str, call_control_id: str, now: datetime) -> None:
    """Remember the call Telnyx created for a response we dialled, unless its first webhook already did."""
    statement = (update(sql.RESPONSES)
                 .where(sql.RESPONSES.c.id == response_id, sql.RESPONSES.c.call_control_id.is_(None))
                 .values(call_control_id=call_control_id, updated_at=now))
    await (await session.connection()).execute(statement)
