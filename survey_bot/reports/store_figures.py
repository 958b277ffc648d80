"""What the database says right now, for a metrics scrape: responses by form and status, calls in progress and
the outbox's backlog.

Read from the store at every scrape rather than counted in a process, so every worker and every host sharing
the database reports the same numbers, and a restart loses nothing. Three small queries, each on an index:
responses(form_id, status) and responses(status), commands(status, id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.observe.exposition import StoreFigures
from survey_bot.storage.models import Command, Response
from survey_bot.storage.outbox import OPEN
from survey_bot.utc import as_utc
from survey_bot.vocabulary import IN_PROGRESS

__all__ = ["store_figures"]


async def store_figures(session: AsyncSession, now: datetime) -> StoreFigures:
    """Count what the scrape shows of the store, as of `now`."""
    by_status = await session.execute(
        select(Response.form_id, Response.status, func.count()).group_by(Response.form_id, Response.status))
    responses = {(form_id, status): int(count) for form_id, status, count in by_status}
    backlog = (await session.execute(
        select(func.count(), func.min(Command.created_at)).where(Command.status.in_(OPEN)))).one()
    oldest: datetime | None = backlog[1]
    lag = max(0.0, (as_utc(now) - as_utc(oldest)).total_seconds()) if oldest is not None else 0.0
    in_progress = sum(count for (_form, status), count in responses.items() if status == IN_PROGRESS)
    return StoreFigures(responses=responses, calls_in_progress=in_progress, outbox_open=int(backlog[0]),
                        outbox_lag_seconds=lag)
