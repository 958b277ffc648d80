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
from survey_bot.flow.language import choose_default, on_language_chosen
from survey_bot.flow.opening import (
    awaiting_detection,
    begin,
    on_disclosure_ended,
    on_greeting_ended,
    on_machine_detected,
    on_voicemail_spoken,
    opt_out,
    opted_out_by_key,
    opted_out_by_voice,
)
from survey_bot.flow.state import CallState, Command, Decision
from survey_bot.flow.status import settle
from survey_bot.flow.steps import context, hangup, keep, keep_newest_history
from survey_bot.flow.watchdog import WATCHDOG_EVENT, on_watchdog
from survey_bot.forms.model import Form
from survey_bot.vocabulary import DIAL_FAILED, DTMF, HANGUP_CAUSES

__all__ = ["HANDLERS", "next_commands"]

Handler = Callable[[Event, CallState, Form, datetime], list[Command]]


def next_commands(event: Event, state: CallState, form: Form, now: datetime) -> Decision:
    """Apply one event to a copy of `state`, returning the new state and the commands to issue."""
    new_state = _working_copy(state)
    handler = HANDLERS.get(event.event_type)
    commands = handler(event, new_state, form, now) if handler else []
    if new_state.ended_at is not None and not new_state.locale:
        new_state.locale = form.locales[0]  # the caller left during the language menu: the default locale
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
        outreach=dict(state.outreach),
    )


def on_initiated(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """An inbound call rings: answer it, naming the response in client_state."""
    if state.direction != "incoming":
        return []
    return [Command("answer", "answer", context(state))]


def on_answered(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The call is up: the language menu, the disclosure or the voice AI, once answering machine detection (if
    asked) says it is a person."""
    state.answered_at = state.answered_at or event.occurred_at or now
    return [] if awaiting_detection(state) else begin(state, form, now)


def on_history_updated(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Keep the newest transcript."""
    keep_newest_history(event, state, now)
    return []


def on_speak_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The closing words were spoken (or their recording played), or a voicemail message: end the call."""
    if event.client_state.get("s") == "voicemail":
        return on_voicemail_spoken(event, state)
    if event.client_state.get("s") != "closing":
        return []
    return [hangup(state)]


def on_hangup(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The call is over: keep every answer, store why it ended."""
    state.ended_at = state.ended_at or event.occurred_at or now
    cause, source = event.payload.get("hangup_cause"), event.payload.get("hangup_source")
    if state.hangup_cause not in HANGUP_CAUSES:  # survey-bot's own (lost, opt-out, machine) say more: kept
        state.hangup_cause = str(cause)[:40] if cause else state.hangup_cause
    state.hangup_source = str(source)[:20] if source else state.hangup_source
    return []


def on_gather(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """A keypad gather ended: the language menu's, the disclosure's, an opt-out key on a question that listens
    for it, or an answer."""
    if event.client_state.get("s") == "language":
        return begin(state, form, now) if on_language_chosen(event, state, form) else []
    if event.client_state.get("s") == "disclosure":
        return on_disclosure_ended(event, state, form, now)
    if opted_out_by_key(event, state, form):
        return opt_out(state, form, "key")
    return on_gather_ended(event, state, form, now)


def on_partial(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Partial answers; a spoken opt-out counts at once (the caller may hang up before the AI ends)."""
    if opted_out_by_voice(event.payload.get("partial_results")):
        opt_out(state, form, "voice", goodbye=False)
    return on_partial_results(event, state, form, now)


def on_ai_gather_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The AI's gather ended: its answers are kept; after a spoken opt-out, goodbye instead of the next step."""
    if opted_out_by_voice(event.payload.get("result")):
        opt_out(state, form, "voice", goodbye=False)
    commands = on_ai_ended(event, state, form, now)
    return opt_out(state, form, "voice") if state.outreach.get("opt_out") else commands


def on_command_failed(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Telnyx refused a command for good: record it and move the conversation on where that makes sense."""
    failure = {key: event.payload.get(key) for key in ("action", "step", "status_code", "code", "detail")}
    state.failures.append(failure)
    if event.payload.get("code") == "90018":  # call already ended: the hangup webhook will follow
        return []
    if event.payload.get("action") == "dial":  # no call was placed: nothing will follow, so it ends here
        state.ended_at = state.ended_at or now
        state.hangup_cause = str(event.payload.get("hangup_cause") or DIAL_FAILED)[:40]
        return []
    step = str(event.payload.get("step") or "")
    if "~w" in step:  # a watchdog re-issue refused (the step still runs): the call is alive; the next sweep closes
        return []
    if step.startswith("language") and not step.startswith("language:"):  # the menu's gather was refused
        return begin(state, form, now) if choose_default(state, form) else []
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
    "call.ai_gather.partial_results": on_partial,
    "call.ai_gather.message_history_updated": on_history_updated,
    "call.ai_gather.ended": on_ai_gather_ended,
    "call.gather.ended": on_gather,
    "call.machine.detection.ended": on_machine_detected,
    "call.machine.premium.detection.ended": on_machine_detected,
    "call.machine.greeting.ended": on_greeting_ended,
    "call.machine.premium.greeting.ended": on_greeting_ended,
    "call.speak.ended": on_speak_ended,
    "call.playback.ended": on_speak_ended,
    "call.hangup": on_hangup,
    "survey_bot.command_failed": on_command_failed,
    WATCHDOG_EVENT: on_watchdog,
}
