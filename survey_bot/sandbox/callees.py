"""The people the simulator's outbound calls reach when nobody scripted them: they answer as the form's example
caller does (sandbox.examples), so `survey-bot call` and `POST /api/calls` against the demo's simulator play
a whole survey instead of ringing forever."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart
from sqlalchemy import select

from survey_bot.errors import ScenarioError
from survey_bot.sandbox.examples import example_document
from survey_bot.sandbox.scenario_file import load_scenario_document
from survey_bot.simulator import Scenario
from survey_bot.storage.models import Response
from survey_bot.web.state import state

__all__ = ["example_callees"]


def example_callees(app: Quart) -> Callable[[dict[str, Any]], Awaitable[Scenario | None]]:
    """A callee hook for FakeTelnyx: the dialled response's form, answered by its first example caller."""

    async def callee(dial: dict[str, Any]) -> Scenario | None:
        response_id = _response_id(dial.get("client_state"))
        if response_id is None:
            return None
        app_state = state(app)
        async with app_state.sessions() as session:
            form_id = await session.scalar(select(Response.form_id).where(Response.id == response_id))
        form = app_state.catalog.forms.get(str(form_id))
        if form is None:
            return None
        document = example_document(form)
        call = {**document["calls"][0], "direction": "outbound", "to": dial["to"]}
        call.pop("from", None)
        try:
            loaded = load_scenario_document({"form": form.form_id, "calls": [call]}, "<example callee>",
                                            app_state.catalog.forms)
        except ScenarioError:
            return None
        return loaded.calls[0].scenario

    return callee


def _response_id(client_state: Any) -> str | None:
    try:
        decoded = json.loads(base64.b64decode(str(client_state or ""), validate=True))
    except (binascii.Error, ValueError):
        return None
    value = decoded.get("r") if isinstance(decoded, dict) else None
    return value if isinstance(value, str) else None
