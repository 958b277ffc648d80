"""Logging set-up shared by every entry point (the CLI, the web workers, the dispatcher child)."""

from __future__ import annotations

import logging
import os

__all__ = ["configure_logging"]


def configure_logging(process_name: str = "") -> None:
    """Log at SURVEY_BOT_LOG_LEVEL, one line per record, naming the process when it is a helper one."""
    prefix = f"{process_name}[%(process)d] " if process_name else ""
    logging.basicConfig(level=os.environ.get("SURVEY_BOT_LOG_LEVEL", "INFO").upper(),
                        format=f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s")
    for chatty in ("httpx", "httpcore", "telnyx"):  # one line per request drowns what matters
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # Alembic says which database backend it found every time a command checks the schema; `db upgrade`
    # turns it back on to show the migrations it runs.
    logging.getLogger("alembic").setLevel(logging.WARNING)
