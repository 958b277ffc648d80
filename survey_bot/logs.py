"""Logging set-up shared by every entry point (the CLI, the web workers, the dispatcher child)."""

from __future__ import annotations

import logging
import os

from survey_bot.errors import ConfigError
from survey_bot.observe.log_format import LOG_FORMATS, JsonFormatter, TextFormatter, secrets_in

__all__ = ["configure_logging", "json_logs"]


def json_logs() -> bool:
    """Tell whether SURVEY_BOT_LOG_FORMAT asks for one JSON object per line; refuse a format that does not exist."""
    chosen = os.environ.get("SURVEY_BOT_LOG_FORMAT", "").strip().lower() or "text"
    if chosen not in LOG_FORMATS:
        raise ConfigError(f"SURVEY_BOT_LOG_FORMAT={chosen!r} is not a log format: use {' or '.join(LOG_FORMATS)}")
    return chosen == "json"


def configure_logging(process_name: str = "") -> None:
    """Log at SURVEY_BOT_LOG_LEVEL in SURVEY_BOT_LOG_FORMAT, naming the process when it is a helper one.

    Like logging.basicConfig, it leaves a process whose logging is already set up alone (pytest, a server
    process that configured itself before building its app).
    """
    secrets = secrets_in(os.environ)
    formatter = (JsonFormatter(process_name, secrets=secrets) if json_logs()
                 else TextFormatter(process_name, secrets=secrets))
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    logging.basicConfig(level=os.environ.get("SURVEY_BOT_LOG_LEVEL", "INFO").upper(), handlers=[handler])
    if json_logs():  # a Python warning is a log line too, not free text on stderr
        logging.captureWarnings(True)
    for chatty in ("httpx", "httpcore", "telnyx"):  # one line per request drowns what matters
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # Alembic says which database backend it found every time a command checks the schema; `db upgrade`
    # turns it back on to show the migrations it runs.
    logging.getLogger("alembic").setLevel(logging.WARNING)
