"""Ordinary mistakes said in one line: a folder that is not there, a database that cannot be opened or reached.

The CLI turns these into `survey-bot: <what is wrong and what to do>` and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from survey_bot.errors import ConfigError
from survey_bot.storage.engine import database_problem

__all__ = ["check_writable", "environment_problem"]


def check_writable(path: Path, what: str) -> None:
    """Raise ConfigError unless `path` can be created or written (its folder exists and is writable)."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"{what}: {path} is a folder; give a file name in it")
    if not folder.is_dir():
        raise ConfigError(f"{what}: the folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{what}: {path} cannot be written (permission denied)")


def environment_problem(exc: BaseException, database_url: str) -> str | None:
    """What went wrong with the environment, in one line, when `exc` is such a mistake; else None."""
    return database_problem(exc, database_url)
