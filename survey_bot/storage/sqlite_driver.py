"""aiosqlite with fewer event-loop hops: a measured fast path that overrides aiosqlite's private internals.

Pinned to the aiosqlite versions in pyproject.toml; tests/test_fast_paths.py fails loudly when the internals
this relies on (`Connection._execute`, `_conn`, `_connection`, `_running`, `_thread`) change shape.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

__all__ = ["CHECKPOINT_EVERY", "FewHopsConnection"]


# Calls that may wait (for a lock, on fsync, on a schema change) run on aiosqlite's thread. BEGIN is tried in
# place first; COMMIT runs in place because checkpoints (the fsyncs) are ours, on the thread, once a second;
# ROLLBACK (also the pool's reset of every returned connection) only discards.
_WAITING_STATEMENTS = ("PRAGMA", "VACUUM", "CREATE", "DROP", "ALTER")
_WAITING_CALLS = frozenset({"executescript"})
CHECKPOINT_EVERY = 1.0  # seconds: the WAL holds at most about this much of the writes


class FewHopsConnection(aiosqlite.Connection):
    """aiosqlite, except that only calls that may wait go through its thread; the rest run in place.

    Why: each aiosqlite call resumes its caller two turns of the event loop later, and under load a turn
    takes milliseconds. A statement cost four calls (cursor, execute, fetch, close), so a transaction held
    SQLite's write lock, and the pool's one connection, for tens of turns; the intake and the dispatcher
    spent most of their time waiting for each other (bench/ingest.py). Inside a BEGIN IMMEDIATE transaction
    nothing waits for a lock, so statements run at once (microseconds to a few milliseconds). BEGIN runs in
    place when the lock is free and otherwise waits on aiosqlite's thread (another process holds it). A
    WAL commit only appends to the log (synchronous=NORMAL: no fsync); the checkpoint that copies the log
    back and fsyncs runs on the thread, at most once a second, instead of inside some commit. Calls never
    overlap: the connection serves one session at a time.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self._thread.daemon = True  # as aiosqlite.connect() sets it
        self._checkpointed = time.monotonic()

    @classmethod
    def opener(cls, *args: Any, **kwargs: Any) -> FewHopsConnection:
        """What SQLAlchemy's aiosqlite dialect awaits for a new connection, with the dialect's own arguments."""
        return cls(partial(sqlite3.connect, *args, **kwargs))

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        name = getattr(fn, "__name__", "")
        sql = args[0].lstrip()[:8].upper() if name == "execute" and args and isinstance(args[0], str) else ""
        closing = name == "close" and isinstance(getattr(fn, "__self__", None), sqlite3.Connection)
        if closing or name in _WAITING_CALLS or sql.startswith(_WAITING_STATEMENTS):
            return await self._in_thread(fn, *args, **kwargs)
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if sql.startswith("BEGIN"):
            return await self._begin(fn, *args, **kwargs)
        result = fn(*args, **kwargs)
        if name == "commit" and time.monotonic() - self._checkpointed >= CHECKPOINT_EVERY:
            self._checkpointed = time.monotonic()
            await self._in_thread(self._checkpoint)
        return result

    async def _begin(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Take the write lock at once if it is free; else wait for it (busy timeout) on the thread."""
        connection = self._conn
        waits = connection.execute("PRAGMA busy_timeout").fetchall()[0][0]
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
        finally:
            connection.execute(f"PRAGMA busy_timeout = {int(waits)}")
        return await self._in_thread(fn, *args, **kwargs)

    def _checkpoint(self) -> None:
        # fetchall() finishes the statement: a cursor left holding it would fail the next COMMIT
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def _in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
