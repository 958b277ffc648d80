"""Settings: defaults in code, then the environment (SURVEY_BOT_*, TELNYX_*), then explicit overrides.

Nothing is read at import time: `Settings.load()` reads the environment when it is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from survey_bot.errors import ConfigError

__all__ = ["DISPATCHER_MODES", "ENVIRONMENT", "Settings", "default_forms_dir", "shipped_folder"]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///survey_bot.db"
# Exponential backoff over more than 24 h: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h.
DEFAULT_RETRY_SCHEDULE = "5,30,120,600,1800,3600,7200,14400,28800,43200"


def default_forms_dir() -> Path:
    """Return ./forms when it exists, else the example forms shipped with the package."""
    local = Path("forms")
    return local if local.is_dir() else shipped_folder("forms")


def shipped_folder(name: str) -> Path:
    """Locate a top-level folder (forms, migrations) in a source checkout or inside an installed wheel."""
    package = Path(__file__).resolve().parent
    for candidate in (package / f"_{name}", package.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"the {name}/ folder is missing from this installation of survey-bot")


# (attribute, environment variable, default, description): the README's configuration table.
ENVIRONMENT: tuple[tuple[str, str, str, str], ...] = (
    ("database_url", "SURVEY_BOT_DATABASE_URL", DEFAULT_DATABASE_URL,
     "SQLAlchemy async URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://user@host/db"),
    ("forms_dir", "SURVEY_BOT_FORMS_DIR", "./forms (else the bundled examples)", "folder of <form_id>.json files"),
    ("default_form", "SURVEY_BOT_DEFAULT_FORM", "", "form for inbound calls to numbers no form lists in x-numbers"),
    ("admin_token", "SURVEY_BOT_ADMIN_TOKEN", "",
     "bearer token for /api and the dashboard, at least 16 characters; unset: they answer 503"),
    ("secret_key", "SURVEY_BOT_SECRET_KEY", "generated once, kept in the database",
     "signs the dashboard's cookies; changing it signs everybody out"),
    ("session_idle_minutes", "SURVEY_BOT_SESSION_IDLE_MINUTES", "30", "a dashboard session unused this long ends"),
    ("trusted_proxies", "SURVEY_BOT_TRUSTED_PROXIES", "",
     "comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed"),
    ("from_number", "SURVEY_BOT_FROM_NUMBER", "", "E.164 caller id for outbound survey calls"),
    ("max_body_bytes", "SURVEY_BOT_MAX_BODY_BYTES", "262144", "largest webhook body accepted (413 above)"),
    ("max_upload_bytes", "SURVEY_BOT_MAX_UPLOAD_BYTES", "52428800",
     "largest contact list POST /api/campaigns accepts (50 MiB; 413 above), streamed to a temporary file"),
    ("body_timeout", "SURVEY_BOT_BODY_TIMEOUT", "10", "seconds to receive a request body (cuts off trickled bodies)"),
    ("telnyx_timeout", "SURVEY_BOT_TELNYX_TIMEOUT", "5", "seconds per Telnyx API attempt (the SDK retries)"),
    ("telnyx_max_retries", "SURVEY_BOT_TELNYX_MAX_RETRIES", "2", "SDK retries of 408/409/429/5xx/timeouts"),
    ("telnyx_api_key", "TELNYX_API_KEY", "", "Telnyx API v2 key (secret; never logged)"),
    ("telnyx_public_key", "TELNYX_PUBLIC_KEY", "", "base64 Ed25519 public key from the Telnyx portal; required"),
    ("telnyx_base_url", "TELNYX_BASE_URL", "https://api.telnyx.com/v2", "Telnyx API base URL (the simulator's)"),
    ("telnyx_connection_id", "TELNYX_CONNECTION_ID", "", "Call Control App id used to dial outbound calls"),
    ("insecure_skip_verify", "SURVEY_BOT_INSECURE_SKIP_VERIFY", "",
     "set by `serve --insecure-skip-verify`; local tests only"),
    ("call_silence_timeout", "SURVEY_BOT_CALL_SILENCE_TIMEOUT", "90",
     "seconds a call may stay silent beyond what its awaited step allows before the watchdog asks Telnyx"),
    ("dispatcher", "SURVEY_BOT_DISPATCHER", "inline (`survey-bot serve`: process)",
     "where outbox commands are sent from: `process` (a child beside each web process) or `inline`"),
    ("metrics_token", "SURVEY_BOT_METRICS_TOKEN", "", "bearer token for GET /metrics; unset: /metrics is open"),
    ("retention_days", "SURVEY_BOT_RETENTION_DAYS", "",
     "days a response is kept, from its start; unset: forever; a form's x-retention-days wins over it"),
    ("data_key", "SURVEY_BOT_DATA_KEY", "",
     "comma-separated Fernet keys, newest first, encrypting x-sensitive answers (`survey-bot keys generate`); "
     "required by `serve` when a form has sensitive fields; keep an old key after the new one until rotated"),
    ("log_format", "SURVEY_BOT_LOG_FORMAT", "text", "`text`, or `json`: one JSON object per line with the call's ids"),
    ("webhooks_allow_private", "SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE", "",
     "`1`: outbound webhooks may go to loopback and private addresses (tests, an EHR on the premises)"),
    ("webhooks_retry_schedule", "SURVEY_BOT_WEBHOOKS_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE,
     "comma-separated seconds between an outbound webhook's attempts (default: 10 retries over about 28 h)"),
)
DISPATCHER_MODES = ("process", "inline")


@dataclass(frozen=True)
class Settings:
    """Everything the app reads from its environment."""

    database_url: str = DEFAULT_DATABASE_URL
    forms_dir: Path | None = None
    default_form: str = ""
    admin_token: str = ""
    secret_key: str = ""
    session_idle_minutes: float = 30.0
    trusted_proxies: str = ""
    from_number: str = ""
    max_body_bytes: int = 262_144
    max_upload_bytes: int = 50 * 1024 * 1024
    body_timeout: float = 10.0
    telnyx_timeout: float = 5.0
    telnyx_max_retries: int = 2
    telnyx_api_key: str = ""
    telnyx_public_key: str = ""
    telnyx_base_url: str = ""
    telnyx_connection_id: str = ""
    insecure_skip_verify: bool = False
    dispatch_commands: bool = True
    call_silence_timeout: float = 90.0
    dispatcher: str = "inline"
    metrics_token: str = ""
    log_format: str = "text"
    retention_days: int | None = None  # None: keep forever
    data_key: str = ""  # SURVEY_BOT_DATA_KEY (secret): keys of the sensitive answers, newest first
    webhooks_allow_private: bool = False
    webhooks_retry_schedule: str = DEFAULT_RETRY_SCHEDULE

    def __post_init__(self) -> None:
        if self.retention_days is not None and self.retention_days < 0:
            raise ConfigError(f"SURVEY_BOT_RETENTION_DAYS={self.retention_days} is negative: give a number of days "
                              "(0 or more), or leave it unset to keep responses forever")
        self.retry_schedule  # noqa: B018  (refuse a bad SURVEY_BOT_WEBHOOKS_RETRY_SCHEDULE at once)

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from defaults, then `env` (default: os.environ), then `overrides`."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for attribute, variable, _default, _doc in ENVIRONMENT:
            raw = env.get(variable)
            if raw is None or raw == "":
                continue
            values[attribute] = _convert(attribute, variable, raw, str(types[attribute]))
        settings = cls(**values)
        if overrides:
            settings = replace(settings, **dict(overrides))
        return settings

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        """SURVEY_BOT_WEBHOOKS_RETRY_SCHEDULE: the seconds to wait before each retry of an outbound webhook."""
        try:
            waits = tuple(float(part) for part in self.webhooks_retry_schedule.split(","))
        except ValueError:
            waits = ()
        if not waits or any(not 0 <= wait < 10 * 86400 for wait in waits):
            raise ConfigError(f"SURVEY_BOT_WEBHOOKS_RETRY_SCHEDULE={self.webhooks_retry_schedule!r}: give "
                              "comma-separated seconds between attempts, e.g. 5,30,120 (each 0 to 864000)")
        return waits

    @property
    def forms_path(self) -> Path:
        """The forms folder actually used."""
        return Path(self.forms_dir) if self.forms_dir else default_forms_dir()

    def __repr__(self) -> str:  # never print secrets
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for secret in ("telnyx_api_key", "admin_token", "secret_key", "metrics_token", "data_key"):
            if shown[secret]:
                shown[secret] = "***"
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def _convert(attribute: str, variable: str, raw: str, type_name: str) -> Any:
    try:
        if "bool" in type_name:
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if "int" in type_name:
            return int(raw)
        if "float" in type_name:
            return float(raw)
        if "Path" in type_name:
            return Path(raw)
    except ValueError as exc:
        raise ConfigError(f"{variable}={raw!r} is not a valid {type_name} for {attribute}") from exc
    return raw
