"""Rewriting what a call stored before one of its sensitive answers was known: its webhook bodies, redacted in
the transaction that stores the answer (forms.redaction says what is replaced; the write path says when).
SQLite zeroes what is overwritten (secure_delete, storage.engine); PostgreSQL's old row versions go with a
vacuum (storage.vacuum)."""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.forms.redaction import Redactor
from survey_bot.storage import statements as sql

__all__ = ["rewrite_events"]

_EVENTS = sql.EVENTS
_REWRITE = update(_EVENTS).where(_EVENTS.c.id == bindparam("_id")).values(body=bindparam("new_body"))


async def rewrite_events(session: AsyncSession, response_id: str, call_control_id: str | None,
                         redactor: Redactor) -> int:
    """Redact the stored webhook bodies of a response (and of its call); return how many changed."""
    of_call = _EVENTS.c.response_id == response_id
    if call_control_id:
        of_call = or_(of_call, _EVENTS.c.call_control_id == call_control_id)
    connection = await session.connection()
    rows = (await connection.execute(select(_EVENTS.c.id, _EVENTS.c.body).where(of_call))).all()
    changed = [{"_id": row.id, "new_body": body} for row in rows if (body := redactor.body(row.body)) != row.body]
    if changed:
        await connection.execute(_REWRITE, changed)
    return len(changed)
