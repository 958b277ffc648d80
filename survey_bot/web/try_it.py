"""'Try it in the simulator' on the dashboard: the hook a sandbox attaches, and what the page says without one.

The web layer knows nothing of the simulator: survey_bot.sandbox attaches a TryIt when it runs the app wired to
the fake Telnyx (the demo, `survey-bot demo --serve`), and the dashboard asks it for its status and for calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from quart import Quart

from survey_bot.web.state import state

__all__ = ["PlayedCall", "TryIt", "TryItStatus", "TryItUnavailable", "attach", "example", "play", "start_call",
           "status"]

KEY = "survey_bot.try_it"


class TryItUnavailable(RuntimeError):
    """No simulated call can be placed; the message says why and what to do instead."""


@dataclass(frozen=True)
class TryItStatus:
    """Whether "try it" works here and, if not, why (shown on the forms page)."""

    ready: bool
    reason: str = ""


@dataclass(frozen=True)
class PlayedCall:
    """One call of a scenario played on the simulator, as the results page shows it."""

    name: str
    response_id: str | None
    status: str | None
    answers: dict[str, Any]
    error: str | None
    checked: bool
    differences: list[str]


class TryIt(Protocol):
    """What the dashboard needs of a simulator."""

    def status(self) -> TryItStatus:
        """Whether calls can be placed now."""

    async def start_call(self, form_id: str) -> str:
        """Ring the app with a sample caller for `form_id`; the call's id (raises TryItUnavailable)."""

    def example(self, form_id: str) -> str:
        """A starting scenario for `form_id`, as text to edit (the calls of `survey-bot simulate --example`)."""

    async def play(self, form_id: str, text: str, source: str) -> list[PlayedCall]:
        """Play a scenario (JSON or YAML text) of `form_id`; raises ScenarioError with every problem."""


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


def _ready(app: Quart) -> TryIt:
    current = status(app)
    if not current.ready:
        raise TryItUnavailable(current.reason)
    try_it: TryIt = app.extensions[KEY]
    return try_it


def example(app: Quart, form_id: str) -> str:
    """A starting scenario for `form_id` (raises TryItUnavailable)."""
    return _ready(app).example(form_id)


async def play(app: Quart, form_id: str, text: str, source: str) -> list[PlayedCall]:
    """Play a scenario of `form_id` (raises TryItUnavailable, or ScenarioError for a scenario that is not valid)."""
    return await _ready(app).play(form_id, text, source)
