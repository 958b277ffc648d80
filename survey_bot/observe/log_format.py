"""How a log record is written: `text` (one readable line) or `json` (one JSON object per line, for a log
pipeline), both with the ids the record is about (observe.log_context) and with every configured secret
blanked out.

Secrets are never logged on purpose; the blanking is for the accident (an exception quoting a header, a URL
with a password): the text a record carries (message, traceback) passes through `redact` before it is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from survey_bot.observe.log_context import current_ids

__all__ = ["LOG_FORMATS", "JsonFormatter", "TextFormatter", "secrets_in"]

LOG_FORMATS = ("text", "json")
SECRET_VARIABLES = ("TELNYX_API_KEY", "SURVEY_BOT_ADMIN_TOKEN", "SURVEY_BOT_METRICS_TOKEN", "SURVEY_BOT_SECRET_KEY")
MIN_SECRET = 6  # shorter values would blank ordinary words; real secrets are far longer
REDACTED = "[redacted]"


def secrets_in(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The secret values this process knows of: keys and tokens, and the database URL's password."""
    found = [environ.get(name, "") for name in SECRET_VARIABLES]
    with contextlib.suppress(ValueError):  # not a URL (a bad port): nothing to take from it
        found.append(urlsplit(environ.get("SURVEY_BOT_DATABASE_URL", "")).password or "")
    # longest first, so a secret holding another is blanked whole
    return tuple(sorted({s for s in found if len(s) >= MIN_SECRET}, key=len, reverse=True))


class _Redacting(logging.Formatter):
    def __init__(self, fmt: str | None = None, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = tuple(secrets)

    def redact(self, text: str) -> str:
        """`text` with every secret blanked out."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


class TextFormatter(_Redacting):
    """`time LEVEL [process[pid]] logger: message [ids]`, the ids only where they apply."""

    def __init__(self, process_name: str = "", *, secrets: Iterable[str] = ()) -> None:
        prefix = f"{process_name}[%(process)d] " if process_name else ""
        super().__init__(f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s%(survey_bot_ids)s",
                         secrets=secrets)

    def format(self, record: logging.LogRecord) -> str:
        ids = current_ids()
        record.survey_bot_ids = (" [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]") if ids else ""
        return self.redact(super().format(record))


class JsonFormatter(_Redacting):
    """One JSON object per record: time (UTC), level, logger, message, pid, then the ids and any traceback."""

    def __init__(self, process_name: str = "", *, secrets: Iterable[str] = ()) -> None:
        super().__init__(secrets=secrets)
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
            "pid": record.process,
        }
        if self.process_name:
            entry["process"] = self.process_name
        entry.update(current_ids())
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)
