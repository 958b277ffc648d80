"""`survey-bot db upgrade`: migrate the database to the newest schema."""

from __future__ import annotations

import argparse
import asyncio
import logging

from survey_bot.cli.common import Commands
from survey_bot.config import DEFAULT_DATABASE_URL, Settings

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """Register `db upgrade`."""
    db = commands.add_parser("db", help="the database's schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser(
        "upgrade", help="migrate the database to the newest schema",
        description=f"Create or migrate the database named by SURVEY_BOT_DATABASE_URL (default "
                    f"{DEFAULT_DATABASE_URL}) to the newest schema. Safe to run again.")
    upgrade.set_defaults(handler=_db_upgrade)


def _db_upgrade(args: argparse.Namespace) -> int:
    from survey_bot.storage.migrate import head_revision, upgrade

    logging.getLogger("alembic").setLevel(logging.INFO)  # show each migration as it runs
    settings = Settings.load()
    asyncio.run(upgrade(settings.database_url))
    print(f"database is at revision {head_revision(settings.database_url)} (head)")
    return 0
