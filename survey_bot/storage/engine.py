"""Engines and sessions, set up per backend.

SQLite is tuned for a server (WAL, a busy timeout, foreign keys, BEGIN IMMEDIATE so read-then-write
transactions never lose updates); PostgreSQL needs nothing special here: callers lock rows they change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from survey_bot import json_codec
from survey_bot.storage.sqlite_driver import FewHopsConnection

__all__ = ["is_sqlite", "make_engine", "make_sessionmaker"]


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
        params["async_creator_fn"] = FewHopsConnection.opener

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
