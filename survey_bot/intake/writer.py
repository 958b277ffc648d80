"""Commits webhook events before they are acknowledged, fast, on both databases: group commit.

One writer task per process takes events off a queue and commits them in batches: every event waits for the
commit that holds it, one commit (one fsync on SQLite, one round trip on PostgreSQL) serves many webhooks,
and per-call order is the arrival order. A batch is decided in memory and written with a few executemany
statements (write_path.handle_batch). If its writes or its commit fail (on PostgreSQL: another worker took
the same event or the same new call first, or a deadlock), it is redone event by event, each in its own
savepoint of one transaction: one bad event cannot take its batch down, and a conflict is retried, seeing what
the other worker committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from survey_bot.flow.events import Event
from survey_bot.forms.model import FormCatalog
from survey_bot.intake.write_path import Outcome, handle_batch, handle_event
from survey_bot.observe.log_context import log_context
from survey_bot.storage.response_cache import ResponseCache

__all__ = ["MAX_BATCH", "Intake"]

log = logging.getLogger(__name__)
MAX_BATCH = 256
CONFLICT_RETRIES = 3  # an event that meets another worker's row on a unique key is tried again this often
Job = tuple[Event, asyncio.Future[Outcome]]


class Intake:
    """Accepts verified events and returns once each is durably processed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: FormCatalog, *,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self.on_commit = on_commit  # called after a commit that made commands due
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._cache = ResponseCache()  # only the single writer uses it

    def start(self) -> None:
        """Start the single writer."""
        self._writer = asyncio.create_task(self._write_batches(), name="survey-bot-intake")

    async def stop(self) -> None:
        """Finish what is queued, then stop the writer."""
        if self._writer is None:
            return
        await self._queue.join()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    async def submit(self, event: Event) -> Outcome:
        """Process `event` and return once its effects are committed."""
        if self._writer is None or self._writer.done():
            raise RuntimeError("intake writer is not running")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, future))
        return await asyncio.shield(future)

    async def _write_batches(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit_batch(self, batch: list[Job]) -> None:
        events = [event for event, _future in batch]
        try:
            async with self._sessions() as session, session.begin():
                results = await handle_batch(session, events, self._catalog, self._cache)
            self._cache.commit()
        except Exception as exc:  # a unique key, a deadlock, a bad row: find out event by event
            self._cache.discard()
            log.log(logging.INFO if _is_conflict(exc) else logging.WARNING,
                    "batch of %d events not committed (%s); redoing it event by event", len(batch), _brief(exc),
                    exc_info=not _is_conflict(exc))
            results = await self._commit_with_savepoints(events)
        for (_event, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if any(isinstance(r, Outcome) and r.commands for r in results):
            self.on_commit()

    async def _commit_with_savepoints(self, events: list[Event]) -> list[Outcome | Exception]:
        """The slow, exact path: each event a batch of one in its own savepoint, conflicts tried again."""
        results: list[Outcome | Exception] = []
        try:
            async with self._sessions() as session, session.begin():
                for event in events:
                    results.append(await self._in_savepoint(session, event))
        except Exception as exc:  # the commit itself failed: nothing in the batch is durable
            log.exception("batch of %d events failed to commit", len(events))
            results = [exc] * len(events)
        return results

    async def _in_savepoint(self, session: AsyncSession, event: Event) -> Outcome | Exception:
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                async with session.begin_nested():  # (its changes flush as the savepoint ends)
                    return await handle_event(session, event, self._catalog)
            except Exception as exc:  # this event only; its savepoint is rolled back
                if _is_conflict(exc) and attempt < CONFLICT_RETRIES:
                    continue  # the other worker's row is committed now (the unique check waited for it)
                with log_context(event_id=event.id, call_control_id=event.call_control_id,
                                 response_id=event.response_id):
                    log.exception("event %s (%s) failed", event.id, event.event_type)
                return exc
        raise AssertionError("unreachable")


def _is_conflict(exc: BaseException) -> bool:
    """A unique key another writer took first, a deadlock or a serialization failure: worth another try."""
    if not isinstance(exc, DBAPIError):
        return False
    text = str(exc.orig).lower()
    return any(word in text for word in ("unique", "duplicate key", "deadlock", "could not serialize",
                                         "serialization"))


def _brief(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).splitlines()[0][:200] if str(exc) else type(exc).__name__
