"""One transaction's writes on the write path: new and changed responses, events and commands, each in one
executemany (per set of changed columns), whatever the number of events; and the opt-outs they carried."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.storage import statements as sql
from survey_bot.storage.opt_outs import insert_opt_outs
from survey_bot.storage.records import ResponseRecord
from survey_bot.storage.responses import insert_row, update_row

__all__ = ["BatchWrites", "write_batch"]


@dataclass
class BatchWrites:
    """Everything a batch writes, in event order; for changed responses, which state fields changed."""

    events: list[dict[str, Any]] = field(default_factory=list)
    new_responses: dict[str, ResponseRecord] = field(default_factory=dict)
    changed_responses: dict[str, ResponseRecord] = field(default_factory=dict)
    changed_fields: dict[str, set[str]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    opt_outs: dict[str, datetime] = field(default_factory=dict)  # responses whose person opted out -> when


async def write_batch(session: AsyncSession, writes: BatchWrites) -> None:
    """Write a batch's new and changed responses, its events and its commands."""
    connection = await session.connection()
    if writes.new_responses:
        await connection.execute(sql.INSERT_RESPONSES, [insert_row(r) for r in writes.new_responses.values()])
    # Only the fields that changed: most events change the transcript alone, and re-encoding every JSON
    # column of every touched response was a fifth of the writes' cost. One executemany per set of fields.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for response_id, record in writes.changed_responses.items():
        names = tuple(sorted(writes.changed_fields.get(response_id, ())))
        groups.setdefault(names, []).append(update_row(record, names))
    for rows in groups.values():
        await connection.execute(sql.UPDATE_RESPONSE, rows)
    if writes.events:
        await connection.execute(sql.INSERT_EVENTS, writes.events)
    if writes.commands:
        await connection.execute(sql.INSERT_COMMANDS, writes.commands)
    await insert_opt_outs(session, writes.opt_outs)
