"""A response's status, recomputed from its facts after every event, so it never depends on delivery order."""

from __future__ import annotations

from datetime import datetime

from survey_bot.flow.state import CallState
from survey_bot.forms.model import Form
from survey_bot.vocabulary import ABANDONED, COMPLETED, FAILED, FINAL_SOURCES, IN_PROGRESS, PARTIAL

__all__ = ["settle"]


def settle(state: CallState, form: Form, now: datetime) -> None:
    """Recompute the status from the facts, so it never depends on the order events arrived in."""
    finished = state.ai_status is not None and state.keypad_queue == [] and state.current_field is None
    if finished:
        required = [f.name for f in form.fields if f.required]
        complete = all(state.sources.get(name) in FINAL_SOURCES for name in required)
        state.status = COMPLETED if complete else PARTIAL
        state.completed_at = state.completed_at or now
    elif state.ended_at is not None:
        never_answered = state.direction == "outgoing" and state.answered_at is None
        state.status = FAILED if never_answered else ABANDONED
    else:
        state.status = IN_PROGRESS
