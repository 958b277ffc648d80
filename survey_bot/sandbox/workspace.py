"""Where a sandbox run keeps its data: a fresh SQLite database in a temporary folder, or one the user names."""

from __future__ import annotations

import tempfile
from pathlib import Path

from survey_bot.errors import ConfigError
from survey_bot.storage.engine import check_database_url, database_problem
from survey_bot.storage.migrate import upgrade

__all__ = ["prepare_database", "temporary_database_url"]


def temporary_database_url(name: str) -> str:
    """A new SQLite file `<name>.db` in a new temporary folder (kept after the run, so its data can be looked at)."""
    folder = Path(tempfile.mkdtemp(prefix=f"survey-bot-{name}-"))
    return f"sqlite+aiosqlite:///{folder / f'{name}.db'}"


async def prepare_database(url: str) -> str:
    """Migrate the database at `url` to the newest schema (creating a SQLite file); return the URL.

    Raises ConfigError saying what is wrong when the database cannot be opened, reached or used.
    """
    check_database_url(url)
    try:
        await upgrade(url)
    except Exception as exc:
        problem = database_problem(exc, url)
        if problem is None:
            raise
        raise ConfigError(problem) from None
    return url
