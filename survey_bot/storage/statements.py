"""The write path's SQL, built once, on the tables rather than the ORM classes (a measured fast path).

Why: built per call as ORM statements, they were cache-keyed every time, autoflushed the session and ran the
ORM's bulk-DML machinery: a third of the per-event path's Python time on PostgreSQL, and building and
cache-keying them per batch cost more than running them (bench/ingest.py). They run on the session's
connection, inside its transaction.

Responses are read locked: on PostgreSQL `FOR UPDATE` in id order, so two batches (two workers, two hosts)
that touch the same responses queue behind each other instead of deadlocking; on SQLite the transaction
already holds the database's write lock (BEGIN IMMEDIATE) and `FOR UPDATE` is not rendered.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, insert, or_, select, update

from survey_bot.storage.models import Command, Response, WebhookEvent
from survey_bot.storage.records import IDENTITY_FIELDS

__all__ = [
    "COMMANDS",
    "EVENTS",
    "EXISTING_COMMANDS",
    "IDENTITIES_BY_ID_OR_CALL",
    "INSERT_COMMANDS",
    "INSERT_EVENTS",
    "INSERT_RESPONSES",
    "RECORDED_EVENTS",
    "RESPONSES",
    "RESPONSES_BY_ID_OR_CALL",
    "UPDATE_RESPONSE",
]

RESPONSES = cast(Table, Response.__table__)
EVENTS = cast(Table, WebhookEvent.__table__)
COMMANDS = cast(Table, Command.__table__)

RECORDED_EVENTS = select(EVENTS.c.id).where(EVENTS.c.id.in_(bindparam("ids", expanding=True)))
EXISTING_COMMANDS = select(COMMANDS.c.command_id).where(COMMANDS.c.command_id.in_(bindparam("ids", expanding=True)))
_BY_ID_OR_CALL = or_(RESPONSES.c.id.in_(bindparam("ids", expanding=True)),
                     RESPONSES.c.call_control_id.in_(bindparam("calls", expanding=True)))
RESPONSES_BY_ID_OR_CALL = (select(RESPONSES).where(_BY_ID_OR_CALL).order_by(RESPONSES.c.id)
                           .with_for_update())
IDENTITIES_BY_ID_OR_CALL = (select(*(RESPONSES.c[name] for name in IDENTITY_FIELDS)).where(_BY_ID_OR_CALL)
                            .order_by(RESPONSES.c.id).with_for_update())
UPDATE_RESPONSE = update(RESPONSES).where(RESPONSES.c.id == bindparam("_id"))  # SET: the parameters' keys
INSERT_RESPONSES = insert(RESPONSES)
INSERT_EVENTS = insert(EVENTS)
INSERT_COMMANDS = insert(COMMANDS)
