"""Alembic driven from code: `survey-bot db upgrade` and the server's at-head check, from any folder."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from survey_bot.config import shipped_folder
from survey_bot.errors import DatabaseNotReady
from survey_bot.storage.engine import make_engine

__all__ = ["alembic_config", "ensure_at_head", "head_revision", "upgrade"]


def alembic_config(database_url: str) -> Config:
    """Build the Alembic configuration for this installation, independent of the working folder."""
    config = Config()
    config.set_main_option("script_location", str(shipped_folder("migrations")))
    config.attributes["database_url"] = database_url
    return config


def head_revision(database_url: str) -> str | None:
    """The newest revision the shipped migrations know."""
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at `database_url` to `revision`."""
    engine = make_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_with, database_url, revision)
    finally:
        await engine.dispose()


def _upgrade_with(connection: Connection, database_url: str, revision: str) -> None:
    config = alembic_config(database_url)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def ensure_at_head(engine: AsyncEngine, database_url: str) -> None:
    """Refuse to run on a database that is not at the migrations' head, saying how to fix it."""
    async with engine.connect() as connection:
        current = await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
    head = head_revision(database_url)
    if current != head:
        raise DatabaseNotReady(
            f"the database is at revision {current or 'none (empty)'} but survey-bot needs {head}; "
            "run `survey-bot db upgrade` (with the same SURVEY_BOT_DATABASE_URL) first"
        )
