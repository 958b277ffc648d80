"""The conversation's decisions: next_commands(event, state, form) -> the new state and the commands to issue.

Pure: no I/O, no clock reads (the caller passes `now`). The state is designed so that the final response
depends on the set of events, not on their delivery order: answers carry the time they were heard, the
transcript keeps the newest version, keypad answers name their field in client_state, and the status is
recomputed from the facts after every event (see flow.status.settle). The AI's part is flow.ai, the keypad's
flow.keypad.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from survey_bot.flow.ai import on_ai_ended, on_partial_results
from survey_bot.flow.events import Event
from survey_bot.flow.keypad import ask_next, give_up, on_gather_ended
from survey_bot.flow.resume import awaiting_resume, on_resumed_answer
from survey_bot.flow.state import CallState, Command, Decision
from survey_bot.flow.status import settle
from survey_bot.flow.steps import context, hangup, keep, keep_newest_history
from survey_bot.flow.watchdog import on_watchdog
from survey_bot.forms.model import Form
from survey_bot.vocabulary import DTMF, LOST

__all__ = ["HANDLERS", "next_commands"]

Handler = Callable[[Event, CallState, Form, datetime], list[Command]]


def next_commands(event: Event, state: CallState, form: Form, now: datetime) -> Decision:
    """Apply one event to a copy of `state`, returning the new state and the commands to issue."""
    new_state = _working_copy(state)
    handler = HANDLERS.get(event.event_type)
    commands = handler(event, new_state, form, now) if handler else []
    settle(new_state, form, now)
    if new_state.ended_at is not None:
        commands = []  # never command a call that has hung up
    return Decision(new_state, commands)


def _working_copy(state: CallState) -> CallState:
    """A copy the handlers may change without touching `state`.

    Handlers add to and replace entries of the state's containers but never change a stored value in place
    (a transcript or an answer is only ever replaced whole), so copying the containers is enough. A deep
    copy duplicated the whole transcript on every event: a third of the intake's time (bench/ingest.py).
    """
    return dataclasses.replace(
        state,
        answers=dict(state.answers),
        sources=dict(state.sources),
        answer_times=dict(state.answer_times),
        keypad_attempts=list(state.keypad_attempts),
        keypad_queue=None if state.keypad_queue is None else list(state.keypad_queue),
        failures=list(state.failures),
        provenance=dict(state.provenance),
        keypad_done=list(state.keypad_done),
        watchdog=list(state.watchdog),
    )


def on_initiated(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """An inbound call rings: answer it, naming the response in client_state."""
    if state.direction != "incoming":
        return []
    return [Command("answer", "answer", context(state))]


def on_answered(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The call is up: hand the form to the voice AI."""
    state.answered_at = state.answered_at or event.occurred_at or now
    if awaiting_resume(state):  # a campaign's re-dial after a breakoff (the first call's answer time is kept)
        return on_resumed_answer(state, form, now)
    if state.ai_status is not None or state.ai_ended:
        return []
    return [Command("ask_ai", "ai", context(state, s="ai"))]


def on_history_updated(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Keep the newest transcript."""
    keep_newest_history(event, state, now)
    return []


def on_speak_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The closing words were spoken (or their recording played): end the call."""
    if event.client_state.get("s") != "closing":
        return []
    return [hangup(state)]


def on_hangup(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The call is over: keep every answer, store why it ended."""
    state.ended_at = state.ended_at or event.occurred_at or now
    cause, source = event.payload.get("hangup_cause"), event.payload.get("hangup_source")
    if state.hangup_cause != LOST:  # the watchdog ended it first: keep saying so (the timeline has this event)
        state.hangup_cause = str(cause)[:40] if cause else state.hangup_cause
    state.hangup_source = str(source)[:20] if source else state.hangup_source
    return []


def on_command_failed(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Telnyx refused a command for good: record it and move the conversation on where that makes sense."""
    failure = {key: event.payload.get(key) for key in ("action", "step", "status_code", "code", "detail")}
    state.failures.append(failure)
    if event.payload.get("code") == "90018":  # call already ended: the hangup webhook will follow
        return []
    step = str(event.payload.get("step") or "")
    if "~w" in step:  # a watchdog re-issue refused (the step still runs): the call is alive; the next sweep closes
        return []
    if step == "ai" and state.ai_ended == 0:
        state.ai_status, state.ai_ended = "failed", 1
        return ask_next(state, form, now)
    if step.startswith("ai:reask:") and state.ai_ended == state.reasks:  # the re-ask never started
        state.ai_ended += 1
        return ask_next(state, form, now)
    if step.startswith("confirm:") and state.readback is not None:  # keep the value as entered
        pending = state.readback
        keep(state, pending["field"], pending["value"], DTMF, str(pending["at"]), f"keypad {pending['n']}")
        return give_up(state, form, pending["field"], now)
    if step == "keypad-intro" or step.endswith(":why"):  # words before a question: the question was sent too
        return []
    if step.startswith("keypad:") and state.current_field is not None:
        return give_up(state, form, state.current_field, now)
    if step in ("closing", "ai-done"):
        return [hangup(state)]
    return []


HANDLERS: dict[str, Handler] = {
    "call.initiated": on_initiated,
    "call.answered": on_answered,
    "call.ai_gather.partial_results": on_partial_results,
    "call.ai_gather.message_history_updated": on_history_updated,
    "call.ai_gather.ended": on_ai_ended,
    "call.gather.ended": on_gather_ended,
    "call.speak.ended": on_speak_ended,
    "call.playback.ended": on_speak_ended,
    "call.hangup": on_hangup,
    "survey_bot.command_failed": on_command_failed,
    "survey_bot.watchdog": on_watchdog,
}
