"""A breakoff continued: a campaign re-dials a contact whose earlier call broke off, and the same response
carries on, as pure decisions.

`reopen` is applied when the re-dial is queued: the response is back `in_progress` on a new call (`calls`
counts them, so each call's commands are keyed apart), its first call's start and answer times kept, its final
answers kept; what only steered the old call (the field being asked, a pending read-back, the watchdog's
notes, the keypad turns of fields left unanswered, whose records would make the new call's first prompt of such
a field look like a redelivery of the old one and go unanswered) is cleared, and every AI gather of the old call
counts as ended. When the new call is answered, `on_resumed_answer` hands the AI only the relevant fields still
without an answer, seeded with the earlier transcript (a targeted gather, like a re-ask); with none left for
the AI, the keypad goes on where it stopped.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from survey_bot.flow.ai import reask
from survey_bot.flow.keypad import ask_next
from survey_bot.flow.state import CallState, Command
from survey_bot.forms.model import Form
from survey_bot.vocabulary import DECLINED, FINAL_SOURCES, IN_PROGRESS

__all__ = ["awaiting_resume", "on_resumed_answer", "reopen"]


def reopen(state: CallState, outreach: dict[str, Any] | None = None) -> CallState:
    """The state of a response about to be continued on a new call (a copy; `state` is left as it was);
    `outreach`: how the new call opens (its dial's answering machine detection, flow.opening.Amd.outreach, and the
    contact's values for the placeholders, flow.steps.contact_values), so
    the disclosure is said again and the new call's verdicts are its own."""
    final = (*FINAL_SOURCES, DECLINED)
    kept = [turn for turn in state.keypad_attempts if state.sources.get(turn["field"]) in final]
    return dataclasses.replace(
        state, status=IN_PROGRESS, ended_at=None, hangup_cause=None, hangup_source=None, current_field=None,
        keypad_queue=None, readback=None, finished_at=None, watchdog=[], calls=state.calls + 1,
        keypad_done=[name for name in state.keypad_done if state.sources.get(name) in final], keypad_attempts=kept,
        ai_ended=state.reasks + 1, outreach=dict(outreach or {}))


def awaiting_resume(state: CallState) -> bool:
    """Whether the response was reopened and its new call has not been handed to the AI or the keypad yet."""
    return state.calls > 1 and state.reasks < state.ai_ended and state.current_field is None \
        and state.finished_at is None


def on_resumed_answer(state: CallState, form: Form, now: datetime) -> list[Command]:
    """The re-dialled contact answered: ask what is left, the AI first."""
    relevance = form.relevance(state.answers, state.sources)
    remaining = [f.name for f in form.fields if f.name in relevance.relevant
                 and state.sources.get(f.name) not in (*FINAL_SOURCES, DECLINED)]
    state.reasks = state.ai_ended
    if remaining and state.ai_status != "failed":
        return [reask(state, form, remaining)]
    return ask_next(state, form, now)
