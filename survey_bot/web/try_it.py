"""'Try it in the simulator' on the dashboard: the hook a sandbox attaches, and what the page says without one.

The web layer knows nothing of the simulator: survey_bot.sandbox attaches a TryIt when it runs the app wired to
the fake Telnyx (the demo, `survey-bot demo --serve`), and the dashboard asks it for its status and for calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from quart import Quart

from survey_bot.web.state import state

__all__ = ["TryIt", "TryItStatus", "TryItUnavailable", "attach", "start_call", "status"]

KEY = "survey_bot.try_it"


class TryItUnavailable(RuntimeError):
    """No simulated call can be placed; the message says why and what to do instead."""


@dataclass(frozen=True)
class TryItStatus:
    """Whether "try it" works here and, if not, why (shown on the forms page)."""

    ready: bool
    reason: str = ""


class TryIt(Protocol):
    """What the dashboard needs of a simulator."""

    def status(self) -> TryItStatus:
        """Whether calls can be placed now."""

    async def start_call(self, form_id: str) -> str:
        """Ring the app with a sample caller for `form_id`; the call's id (raises TryItUnavailable)."""


def attach(app: Quart, try_it: TryIt) -> None:
    """Let the dashboard place simulated calls through `try_it`."""
    app.extensions[KEY] = try_it


def status(app: Quart) -> TryItStatus:
    """The attached simulator's status, or why there is none."""
    try_it = app.extensions.get(KEY)
    if try_it is not None:
        result: TryItStatus = try_it.status()
        return result
    settings = state(app).settings
    return TryItStatus(False, (
        f"This server sends call commands to {settings.telnyx_base_url or 'Telnyx'} and trusts only webhooks "
        "signed with its TELNYX_PUBLIC_KEY, so the built-in simulator cannot drive its calls. "
        "To try the forms without a phone, run `survey-bot demo`, which starts the app wired to the simulator."))


async def start_call(app: Quart, form_id: str) -> str:
    """Place a simulated call of `form_id` (raises TryItUnavailable saying why it cannot)."""
    current = status(app)
    if not current.ready:
        raise TryItUnavailable(current.reason)
    call_id: str = await app.extensions[KEY].start_call(form_id)
    return call_id
