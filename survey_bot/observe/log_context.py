"""The ids a log line is about (response, call, webhook event, command), carried in context variables.

Set where a webhook or a command is handled; every record logged inside (by survey-bot, SQLAlchemy, the SDK)
gets them from observe.log_format, without each log call naming them. asyncio copies the context into each
task it starts, so concurrent sends and webhooks never see each other's ids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["IDS", "current_ids", "log_context"]

IDS = ("response_id", "call_control_id", "event_id", "command_id")
_VARIABLES: dict[str, ContextVar[str | None]] = {name: ContextVar(f"survey_bot_{name}", default=None) for name in IDS}


@contextlib.contextmanager
def log_context(*, response_id: str | None = None, call_control_id: str | None = None, event_id: str | None = None,
                command_id: str | None = None) -> Iterator[None]:
    """Tag the records logged inside the block with these ids (None leaves an id as it was)."""
    given = {"response_id": response_id, "call_control_id": call_control_id, "event_id": event_id,
             "command_id": command_id}
    tokens = [(_VARIABLES[name], _VARIABLES[name].set(value)) for name, value in given.items() if value is not None]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def current_ids() -> dict[str, str]:
    """The ids set here and now."""
    return {name: value for name, variable in _VARIABLES.items() if (value := variable.get()) is not None}
