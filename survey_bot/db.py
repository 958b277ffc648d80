"""Database plumbing: the declarative Base with a naming convention, engines set up per backend, sessions.

SQLite is tuned for a server (WAL, a busy timeout, foreign keys, BEGIN IMMEDIATE so read-then-write
transactions never lose updates); PostgreSQL needs nothing special here: callers lock rows they change.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import JSON, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry

from . import json_codec

__all__ = ["Base", "is_sqlite", "make_engine", "make_sessionmaker"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose constraint names are stable across SQLite and PostgreSQL."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL names SQLite."""
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine, configured for concurrent server use on either backend."""
    kwargs.setdefault("json_serializer", json_codec.dumps)  # the JSON columns: the same values, faster
    kwargs.setdefault("json_deserializer", json_codec.loads)
    if is_sqlite(url):
        # One connection per process: every transaction takes the write lock (BEGIN IMMEDIATE below), so a
        # second connection only ever waited in SQLite's busy handler, which sleeps and retries (1 ms growing
        # to 100 ms). Under load the intake writer kept winning and the dispatcher's transactions starved for
        # seconds. Waiting for the pool's one connection is FIFO and wakes at once.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine.sync_engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "do_connect")
    def _few_hops(_dialect: Any, _record: ConnectionPoolEntry, _args: Any, params: dict[str, Any]) -> None:
        params["async_creator_fn"] = _FewHopsConnection.opener

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (so BEGIN IMMEDIATE below works).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash in WAL mode
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # _FewHopsConnection checkpoints, off the event loop
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred read-then-write transaction loses updates under load.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


# Calls that may wait (for a lock, on fsync, on a schema change) run on aiosqlite's thread. BEGIN is tried in
# place first; COMMIT runs in place because checkpoints (the fsyncs) are ours, on the thread, once a second;
# ROLLBACK (also the pool's reset of every returned connection) only discards.
_WAITING_STATEMENTS = ("PRAGMA", "VACUUM", "CREATE", "DROP", "ALTER")
_WAITING_CALLS = frozenset({"executescript"})
CHECKPOINT_EVERY = 1.0  # seconds: the WAL holds at most about this much of the writes


class _FewHopsConnection(aiosqlite.Connection):
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
    def opener(cls, *args: Any, **kwargs: Any) -> _FewHopsConnection:
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
