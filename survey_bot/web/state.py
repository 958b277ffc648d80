"""The app's shared parts, kept in `app.extensions` (never on module globals) so several apps can coexist."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from quart import Quart
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from survey_bot.config import Settings
from survey_bot.dispatch.child import DispatchProcess
from survey_bot.dispatch.sender import Dispatcher
from survey_bot.forms.model import FormCatalog
from survey_bot.intake.watchdog import Watchdog
from survey_bot.intake.writer import Intake
from survey_bot.jobs.retention import RetentionJob
from survey_bot.jobs.scheduler import Scheduler
from survey_bot.jobs.webhooks import WebhookJob
from survey_bot.runtime import Runtime
from survey_bot.telephony.client import Client
from survey_bot.telephony.signature import verify_and_decode

__all__ = ["KEY", "AppState", "state"]

KEY = "survey_bot"


@dataclass
class AppState:
    """Everything a request handler may need: the runtime, the intake and whichever sender this process uses."""

    runtime: Runtime
    intake: Intake
    dispatcher: Dispatcher
    dispatch_process: DispatchProcess | None = None  # SURVEY_BOT_DISPATCHER=process: the sender is a child
    watchdog: Watchdog | None = None  # started with the sender (settings.dispatch_commands)
    retention: RetentionJob | None = None  # likewise, when the setting or a form limits how long data is kept
    webhooks: WebhookJob | None = None  # outbound webhook deliveries, started with the sender
    scheduler: Scheduler | None = None  # dials running campaigns; started with the sender

    @property
    def settings(self) -> Settings:
        """The settings the app was built with."""
        return self.runtime.settings

    @property
    def engine(self) -> AsyncEngine:
        """The database engine."""
        return self.runtime.engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The session factory."""
        return self.runtime.sessions

    @property
    def catalog(self) -> FormCatalog:
        """The loaded forms."""
        return self.runtime.catalog

    @property
    def client(self) -> Client:
        """The Telnyx SDK client."""
        return self.runtime.client

    def wake_dispatcher(self) -> None:
        """New commands were committed: have whichever sender this process uses look now."""
        if self.dispatch_process is not None:
            self.dispatch_process.wake()
        else:
            self.dispatcher.wake()

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Verify a webhook body with the configured key (or not at all in insecure mode)."""
        key = None if self.settings.insecure_skip_verify else self.settings.telnyx_public_key
        return verify_and_decode(body, headers, key)


def state(app: Quart) -> AppState:
    """The AppState of `app`."""
    found = app.extensions[KEY]
    assert isinstance(found, AppState)
    return found
