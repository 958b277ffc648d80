"""Small steps every handler shares: the context a command carries, a campaign contact's words for the opening
texts, when an event happened, keeping an answer with its provenance, keeping the newest transcript."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Command

__all__ = ["CONTACT", "contact_details", "contact_values", "context", "event_time", "hangup", "keep",
           "keep_newest_history"]

# The outreach key (and the command detail) holding a campaign contact's values for the form's {placeholders}.
CONTACT = "contact"


def context(state: CallState, **extra: Any) -> dict[str, Any]:
    """What the call's later events carry back: the response, and where in the conversation they belong."""
    return {"r": state.response_id, **extra}


def contact_values(state: CallState) -> dict[str, str]:
    """The values a campaign call brought for the greeting's, disclosure's and keypad intro's placeholders
    (forms.placeholders, put there by the dial); {} for any other call, whose texts drop their placeholders."""
    values = state.outreach.get(CONTACT)
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


def contact_details(state: CallState) -> dict[str, Any]:
    """A command's details carrying the contact's values to telephony.arguments (none: nothing to carry)."""
    values = contact_values(state)
    return {CONTACT: values} if values else {}


def event_time(event: Event, now: datetime) -> str:
    """When the event happened (its own time, else now), ISO 8601."""
    return (event.occurred_at or now).isoformat()


def hangup(state: CallState) -> Command:
    """End the call."""
    return Command("hangup", "hangup", context(state, s="hangup"))


def keep(state: CallState, name: str, value: Any, source: str, at: str, attempt: str,
         turn: int | None = None) -> None:
    """Keep an answer (or, with source `declined`, a refusal to answer) with where and when it came from."""
    if source == "declined":
        state.answers.pop(name, None)
    else:
        state.answers[name] = value
    state.sources[name], state.answer_times[name] = source, at
    state.provenance[name] = {"attempt": attempt, **({"turn": turn} if turn is not None else {})}


def keep_newest_history(event: Event, state: CallState, now: datetime) -> None:
    """Keep the event's transcript if it is the newest seen (events may arrive out of order)."""
    history = event.payload.get("message_history")
    if not isinstance(history, list):
        return
    at = event_time(event, now)
    newer = state.message_history_at is None or at > state.message_history_at
    same_time_longer = at == state.message_history_at and len(history) > len(state.message_history)
    if newer or same_time_longer:
        state.message_history, state.message_history_at = history, at
