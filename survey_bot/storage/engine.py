"""Engines and sessions, set up per backend.

SQLite is tuned for a server (WAL, a busy timeout, foreign keys, secure delete, BEGIN IMMEDIATE so read-then-write
transactions never lose updates); PostgreSQL needs nothing special here: callers lock rows they change.
"""

from __future__ import annotations

import socket
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from survey_bot import json_codec
from survey_bot.errors import ConfigError
from survey_bot.storage.sqlite_driver import FewHopsConnection

__all__ = ["check_database_url", "database_problem", "is_sqlite", "make_engine", "make_sessionmaker", "shown_url",
           "upsert_insert"]


ASYNC_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


def shown_url(url: str) -> str:
    """A database URL as it may be printed: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def check_database_url(url: str) -> None:
    """Raise ConfigError, saying which URL to use instead, unless `url` names a driver survey-bot can run."""
    if url.startswith(ASYNC_SCHEMES):
        return
    scheme, sep, rest = url.partition("://")
    if not sep:
        suggestion = f"sqlite+aiosqlite:///{url}"  # a plain path
    elif scheme.startswith("sqlite"):
        suggestion = f"sqlite+aiosqlite://{rest}"
    elif scheme.startswith(("postgres", "postgresql")):
        suggestion = f"postgresql+asyncpg://{rest}"
    else:
        raise ConfigError(f"database URL {shown_url(url)}: survey-bot runs on SQLite (sqlite+aiosqlite:///file.db) "
                          "or PostgreSQL (postgresql+asyncpg://user@host/db)")
    raise ConfigError(f"database URL {shown_url(url)} names no asynchronous driver: use {shown_url(suggestion)} "
                      "(SURVEY_BOT_DATABASE_URL)")


def database_problem(exc: BaseException, url: str) -> str | None:
    """What is wrong with the database at `url`, in one line, when `exc` says it cannot be used; else None."""
    shown, text = shown_url(url), str(getattr(exc, "orig", None) or exc)
    path = url.split(":///", 1)[1] if ":///" in url else url
    if isinstance(exc, DBAPIError) or type(exc).__module__.startswith(("sqlite3", "asyncpg")):
        if "file is not a database" in text:
            return (f"{path} is not a SQLite database (it was left untouched): point the database URL at a new "
                    "file or at an existing survey-bot database")
        if "unable to open database file" in text:
            return f"cannot open the SQLite database {path}: does its folder exist?"
        if "does not exist" in text or "password authentication failed" in text or "role" in text:
            return f"cannot use the database {shown}: {text.splitlines()[0]}"
        return None
    if isinstance(exc, ConnectionRefusedError | socket.gaierror | TimeoutError) or (
            isinstance(exc, OSError) and "connect" in text.lower()):
        return f"cannot reach the database {shown}: {text or type(exc).__name__} (is PostgreSQL running there?)"
    return None


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL names SQLite."""
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine, configured for concurrent server use on either backend (ConfigError for a URL
    without an async driver)."""
    check_database_url(url)
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
        # Deleted and overwritten content is zeroed, not left in free pages (a purge must leave no copy).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred read-then-write transaction loses updates under load.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def upsert_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT construct (it has ON CONFLICT on both databases), for the session's engine."""
    postgres = session.bind is not None and session.bind.dialect.name == "postgresql"
    return postgresql.insert if postgres else sqlite.insert
