"""Purging old responses: each response and every row attached to it, in small transactions, counted per form.

The one list of what belongs to a response is ATTACHED: a table added later with a `response_id` goes there, and
counting, deleting and reclaiming follow. A batch claims its responses with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (two hosts purging at once take different batches; a response the intake holds waits for the next
pass) and holds SQLite's write lock (BEGIN IMMEDIATE, storage.engine); deletes are by id and counted from what
they return, so two purges at once never count a row twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from survey_bot.storage.audit import PURGE, record_audit, update_audit
from survey_bot.storage.models import Command, Response, WebhookEvent
from survey_bot.storage.webhook_models import WebhookAttempt, WebhookDelivery
from survey_bot.vocabulary import IN_PROGRESS

__all__ = ["ATTACHED", "BATCH", "Counts", "PurgeRecorder", "PurgeScope", "add_counts", "count_purge", "describe",
           "purge", "purge_batch", "reclaim"]

# rows with a response_id (an outbound webhook of a purged response is not sent: its data is gone)
ATTACHED: tuple[type[WebhookEvent | Command | WebhookDelivery | WebhookAttempt], ...] = (
    WebhookEvent, Command, WebhookDelivery, WebhookAttempt)
BATCH = 500  # responses per transaction: short locks, bounded memory
Counts = dict[str, int]  # table name -> rows: "responses" first, then each ATTACHED table
OnBatch = Callable[[AsyncSession, dict[str, Counts], dict[str, Counts]], Awaitable[None]]


@dataclass(frozen=True)
class PurgeScope:
    """Which responses: started before `cutoff`, of `form_id` (any when None) and of no form in `exclude`."""

    cutoff: datetime
    form_id: str | None = None
    exclude: frozenset[str] = frozenset()

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clause on responses. A call still in progress is never purged (a late webhook would find no
        response and start a stray one); the watchdog ends a call left silent, and a later pass takes it."""
        found = [Response.started_at < self.cutoff, Response.status != IN_PROGRESS]
        if self.form_id is not None:
            found.append(Response.form_id == self.form_id)
        if self.exclude:
            found.append(Response.form_id.not_in(sorted(self.exclude)))
        return found


def _zero() -> Counts:
    return {"responses": 0, **{model.__tablename__: 0 for model in ATTACHED}}


def add_counts(into: dict[str, Counts], more: dict[str, Counts]) -> None:
    """Add per-form counts to a running total."""
    for form_id, counts in more.items():
        total = into.setdefault(form_id, _zero())
        for table, n in counts.items():
            total[table] += n


def describe(age: str, counts: Counts) -> str:
    """An audit detail: the age and the rows deleted per table (never the data)."""
    return f"{age}: " + ", ".join(f"{table} {n}" for table, n in counts.items())


async def count_purge(session: AsyncSession, scope: PurgeScope) -> dict[str, Counts]:
    """What a purge of `scope` would delete now, per form (the dry run)."""
    found: dict[str, Counts] = {}
    query = select(Response.form_id, func.count()).where(*scope.conditions()).group_by(Response.form_id)
    for form_id, n in (await session.execute(query)).all():
        found.setdefault(form_id, _zero())["responses"] = n
    for model in ATTACHED:
        query = (select(Response.form_id, func.count()).select_from(model)
                 .join(Response, Response.id == model.response_id).where(*scope.conditions())
                 .group_by(Response.form_id))
        for form_id, n in (await session.execute(query)).all():
            found[form_id][model.__tablename__] = n
    return found


async def purge_batch(session: AsyncSession, scope: PurgeScope, limit: int) -> dict[str, Counts]:
    """Delete up to `limit` responses of `scope` and what is attached to them, in the caller's transaction."""
    claimed = (await session.execute(
        select(Response.id, Response.form_id).where(*scope.conditions()).order_by(Response.started_at)
        .limit(limit).with_for_update(skip_locked=True))).all()
    if not claimed:
        return {}
    form_of = {response_id: form_id for response_id, form_id in claimed}
    gone = (await session.execute(
        delete(Response).where(Response.id.in_(list(form_of))).returning(Response.id)
        .execution_options(synchronize_session=False))).scalars().all()
    done: dict[str, Counts] = {}
    for response_id in gone:
        done.setdefault(form_of[response_id], _zero())["responses"] += 1
    for model in ATTACHED:
        owners = (await session.execute(
            delete(model).where(model.response_id.in_(list(gone))).returning(model.response_id)
            .execution_options(synchronize_session=False))).scalars().all()
        for owner in owners:
            assert owner is not None  # deleted by `response_id IN (...)`
            done[form_of[owner]][model.__tablename__] += 1
    return done


async def purge(sessions: async_sessionmaker[AsyncSession], scope: PurgeScope, batch: int = BATCH,
                on_batch: OnBatch | None = None) -> dict[str, Counts]:
    """Delete every response of `scope` (and what is attached), `batch` responses per transaction; return what
    was deleted per form. `on_batch(session, batch_counts, totals_before)` runs inside each batch's transaction
    (the audit line)."""
    totals: dict[str, Counts] = {}
    while True:
        async with sessions() as session, session.begin():
            done = await purge_batch(session, scope, batch)
            if done and on_batch is not None:
                await on_batch(session, done, totals)
        add_counts(totals, done)
        if sum(counts["responses"] for counts in done.values()) < batch:
            return totals


@dataclass
class PurgeRecorder:
    """One audit line per form a purge deleted from, written with its first batch and restated with each next
    one, so the line is true after every commit (a purge stopped half-way says what it did)."""

    actor: str
    age: str
    now: datetime
    lines: dict[str, int] = field(default_factory=dict)  # form id -> audit line id

    async def __call__(self, session: AsyncSession, done: dict[str, Counts], before: dict[str, Counts]) -> None:
        totals = {form_id: dict(counts) for form_id, counts in before.items() if form_id in done}
        add_counts(totals, done)
        for form_id, counts in totals.items():
            detail = describe(self.age, counts)
            if form_id in self.lines:
                await update_audit(session, self.lines[form_id], counts["responses"], detail)
            else:
                self.lines[form_id] = await record_audit(session, self.actor, PURGE, form_id, counts["responses"],
                                                         detail, self.now)


async def reclaim(engine: AsyncEngine) -> None:
    """After a purge deleted something, leave no copy of it where the database can reclaim it.

    SQLite (secure_delete is on for every connection: storage.engine) keeps older page images in its write-ahead
    log until a checkpoint: a TRUNCATE checkpoint copies them back and empties the log. PostgreSQL keeps deleted
    rows in the table files until VACUUM (not FULL: no exclusive lock) marks their space reusable and drops their
    index entries; it must run outside a transaction.
    """
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            raw = (await connection.get_raw_connection()).driver_connection
            assert raw is not None
            cursor = await raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await cursor.fetchall()
            await cursor.close()
            return
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        tables = ", ".join(["responses", *(model.__tablename__ for model in ATTACHED)])
        await autocommit.exec_driver_sql(f"VACUUM {tables}")
