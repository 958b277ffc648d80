"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL.

Migrations run once per backend into a template (a file on SQLite, a template database on PostgreSQL);
each test then gets a copy, so every test starts empty at head without paying for the migrations again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.fernet import Fernet

from survey_bot.storage import sealing
from survey_bot.storage.migrate import upgrade

PG_ADMIN_DSN = os.environ.get("SURVEY_BOT_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PG_TEMPLATE = "survey_bot_test_template"
BACKENDS = [b.strip() for b in os.environ.get("SURVEY_BOT_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]


def pg_url(database: str) -> str:
    """SQLAlchemy URL of a database on the test PostgreSQL server."""
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


def run_in_thread(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion on a private loop (session fixtures may be set up inside a test's loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_in_thread(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"{PG_TEMPLATE}_{os.getpid()}"
    run_in_thread(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    run_in_thread(_pg_admin(f'CREATE DATABASE "{name}"'))
    run_in_thread(upgrade(pg_url(name)))
    yield name
    run_in_thread(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend a test runs on (every database test runs on each)."""
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database at the migrations' head, on `backend`."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "survey_bot.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"sb_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    try:
        yield pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no tables) on `backend`, for migration tests."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"sb_empty_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh SQLite database at head, for end-to-end tests that do not depend on the database (scenario files):
    storage and concurrency are tested on both databases elsewhere; these run once, to keep the suite fast."""
    path = tmp_path / "scenario.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def _throwaway_data_key() -> None:
    """The tests' SURVEY_BOT_DATA_KEY: a throwaway key for this run (subprocesses inherit it), said once."""
    if not os.environ.get("SURVEY_BOT_DATA_KEY"):
        os.environ["SURVEY_BOT_DATA_KEY"] = Fernet.generate_key().decode()
        print("tests: sensitive answers are encrypted with a throwaway SURVEY_BOT_DATA_KEY", file=sys.stderr)
    sealing.install(os.environ["SURVEY_BOT_DATA_KEY"])


_throwaway_data_key()
