"""A response's status, recomputed from its facts after every event, so it never depends on delivery order.

When a call a person answered ends, or the form has run to its end: `completed` when every required field
(static, or required by a branch that applies) has a final answer; otherwise `partial` if the form ran to
its end, `abandoned` if the caller hung up before that. Where the call was when it ended (an optional keypad
question, the closing words) does not matter. A call nobody answered (or only a machine) is `failed`.
"""

from __future__ import annotations

from datetime import datetime

from survey_bot.flow.state import CallState
from survey_bot.forms.model import Form
from survey_bot.vocabulary import ABANDONED, COMPLETED, FAILED, FINAL_SOURCES, IN_PROGRESS, MACHINE, PARTIAL

__all__ = ["complete", "settle"]


def complete(state: CallState, form: Form) -> bool:
    """Whether every field required of this response has a final answer."""
    required = form.relevance(state.answers, state.sources).required
    return all(state.sources.get(name) in FINAL_SOURCES for name in required)


def settle(state: CallState, form: Form, now: datetime) -> None:
    """Recompute the status from the facts."""
    if state.finished_at is None and state.ended_at is None:
        state.status = IN_PROGRESS
    elif state.ended_at is not None and state.direction == "outgoing" and (
            state.answered_at is None or state.hangup_cause == MACHINE):
        state.status = FAILED  # nobody took the call (or only an answering machine or a fax did)
    elif complete(state, form):
        state.status = COMPLETED
    else:
        state.status = PARTIAL if state.finished_at is not None else ABANDONED
    if state.status in (COMPLETED, PARTIAL):
        state.completed_at = state.completed_at or now
