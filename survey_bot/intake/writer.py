"""Commits webhook events before they are acknowledged, fast.

SQLite allows one writer, so one task takes events off a queue and commits them in batches (group commit):
every event waits for the commit that holds it, one fsync serves many webhooks, and per-call order is the
arrival order. A batch is decided in memory and written with a few executemany statements
(processing.handle_batch); if its writes fail, it is redone event by event, each in its own savepoint, so one
bad event cannot take its batch down.
PostgreSQL takes concurrent writers: each event gets its own transaction and the call's row lock orders
events across processes; a deadlock or serialization failure is retried.
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
from survey_bot.intake.write_path import NeedsSavepoints, Outcome, handle_batch, handle_event
from survey_bot.storage.response_cache import ResponseCache

__all__ = ["Intake"]

log = logging.getLogger(__name__)
MAX_BATCH = 256
Job = tuple[Event, asyncio.Future[Outcome]]


class Intake:
    """Accepts verified events and returns once each is durably processed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: FormCatalog, *,
                 group_commit: bool, on_commit: Callable[[], None] = lambda: None) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._group_commit = group_commit
        self.on_commit = on_commit  # called after a commit that made commands due
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._cache = ResponseCache()  # only the single writer uses it

    def start(self) -> None:
        """Start the single writer (group commit mode only)."""
        if self._group_commit:
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
        if not self._group_commit:
            return await self._process_alone(event)
        if self._writer is None or self._writer.done():
            raise RuntimeError("intake writer is not running")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, future))
        return await asyncio.shield(future)

    async def _process_alone(self, event: Event, attempts: int = 5) -> Outcome:
        for attempt in range(attempts):
            try:
                async with self._sessions() as session, session.begin():
                    outcome = await handle_event(session, event, self._catalog)
            except DBAPIError as exc:
                if attempt + 1 < attempts and _is_transient(exc):
                    await asyncio.sleep(0.01 * (attempt + 1))
                    continue
                raise
            if outcome.commands:
                self.on_commit()
            return outcome
        raise AssertionError("unreachable")

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
        except NeedsSavepoints:
            self._cache.discard()
            results = await self._commit_with_savepoints(events)
        except Exception:  # one event's rows broke the writes (or the commit failed): find which, one by one
            self._cache.discard()
            log.warning("batch of %d events failed; retrying it event by event", len(batch), exc_info=True)
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
        """The slow, exact path: handle_event per event, each in its own savepoint."""
        results: list[Outcome | Exception] = []
        try:
            async with self._sessions() as session, session.begin():
                for event in events:
                    try:
                        async with session.begin_nested():  # (its changes flush as the savepoint ends)
                            outcome = await handle_event(session, event, self._catalog)
                        results.append(outcome)
                    except Exception as exc:  # this event only; its savepoint is rolled back
                        log.exception("event %s (%s) failed", event.id, event.event_type)
                        results.append(exc)
        except Exception as exc:  # the commit itself failed: nothing in the batch is durable
            log.exception("batch of %d events failed to commit", len(events))
            results = [exc] * len(events)
        return results


def _is_transient(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(word in text for word in ("deadlock", "could not serialize", "serialization"))
