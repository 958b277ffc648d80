"""The whole system on loopback: the fake Telnyx and the survey-bot app, each on its own real HTTP port,
wired to each other (SDK base URL -> fake; fake webhooks -> app, signed with a key the app trusts).
Used by `survey-bot demo`, the dashboard's "try it" button and the end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from quart import Quart
from sqlalchemy import func, select

from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import FakeTelnyx
from survey_bot.storage.models import Command, Response
from survey_bot.storage.sealing import generate_key
from survey_bot.web.app import create_app
from survey_bot.web.state import state

__all__ = ["Stack", "running_stack"]

FROM_NUMBER = "+15550009999"


@dataclass
class Stack:
    """A running fake Telnyx and app; `app_url`/`telnyx_url` are their loopback base URLs."""

    fake: FakeTelnyx
    app: Quart
    app_url: str
    telnyx_url: str

    async def response_for_call(self, call_control_id: str) -> Response | None:
        """The stored response of a call, if any."""
        async with state(self.app).sessions() as session:
            return await session.scalar(select(Response).where(Response.call_control_id == call_control_id))

    async def settle(self, timeout: float = 20.0) -> None:  # noqa: ASYNC109 - public API
        """Wait until the simulator is idle and the outbox holds nothing unsent, twice in a row."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while quiet < 2:
            await self.fake.wait_idle(max(0.1, deadline - loop.time()))
            open_commands = await self.open_commands()
            quiet = quiet + 1 if open_commands == 0 else 0
            if loop.time() > deadline:
                raise TimeoutError(f"system not settled after {timeout}s ({open_commands} commands open)")
            await asyncio.sleep(0.05)

    async def open_commands(self) -> int:
        """Commands in the outbox not yet sent (pending or being sent)."""
        async with state(self.app).sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(Command).where(Command.status.in_(("pending", "sending")))
            )
        return int(count or 0)


@functools.cache
def sandbox_key() -> str:
    """The throwaway SURVEY_BOT_DATA_KEY of a demo or simulation (one per process, said once on stderr), so forms
    with sensitive fields run without a real key; their answers cannot be read after the process ends."""
    print("survey-bot: sensitive answers are encrypted with a throwaway key for this run (SURVEY_BOT_DATA_KEY is "
          "not set)", file=sys.stderr)
    return generate_key()


@contextlib.asynccontextmanager
async def running_stack(database_url: str, overrides: Mapping[str, Any] | None = None,
                        fake: FakeTelnyx | None = None, app_port: int = 0) -> AsyncIterator[Stack]:
    """Start the fake Telnyx and the app (database must be at head); stop both on exit.

    The dashboard's "try it" places calls on this simulator once sandbox.try_it.attach_simulator(stack) is called.
    """
    fake = fake or FakeTelnyx()
    async with serve_asgi(fake.app) as telnyx_url:
        settings: dict[str, Any] = {
            "database_url": database_url,
            "telnyx_public_key": fake.signer.public_key_b64,
            "telnyx_base_url": telnyx_url,
            "telnyx_api_key": "KEY_simulator",
            "telnyx_connection_id": fake.connection_id,
            "telnyx_timeout": 2.0,
            "from_number": FROM_NUMBER,
            **(overrides or {}),
        }
        if not settings.get("data_key") and not os.environ.get("SURVEY_BOT_DATA_KEY"):
            settings["data_key"] = sandbox_key()
        app = create_app(settings)
        async with serve_asgi(app, port=app_port) as app_url:
            fake.webhook_url = f"{app_url}/webhooks/telnyx"
            yield Stack(fake, app, app_url, telnyx_url)
