"""The app's shared parts, kept in `app.extensions` (never on module globals) so several apps can coexist."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import telnyx
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .config import Settings
from .dispatch_process import DispatchProcess
from .dispatcher import Dispatcher
from .intake import Intake
from .processing import FormCatalog
from .signing import verify_and_decode

__all__ = ["AppState", "state"]

KEY = "survey_bot"


@dataclass
class AppState:
    """Everything a request handler may need."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: FormCatalog
    client: telnyx.AsyncTelnyx
    intake: Intake
    dispatcher: Dispatcher
    dispatch_process: DispatchProcess | None = None  # SURVEY_BOT_DISPATCHER=process: the sender is a child

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
