"""The conversation's decisions: next_commands(event, state, form) -> the new state and the commands to issue.

Pure: no I/O, no clock reads (the caller passes `now`). The state is designed so that the final response
depends on the set of events, not on their delivery order: answers carry the time they were heard, the
transcript keeps the newest version, keypad answers name their field in client_state, and the status is
recomputed from the facts after every event (see flow.status.settle).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from survey_bot.errors import DigitsError
from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Command, Decision
from survey_bot.flow.status import settle
from survey_bot.forms.answers import flatten, validate_answers, validate_field
from survey_bot.forms.digits import parse_digits
from survey_bot.forms.model import Form
from survey_bot.vocabulary import FINAL_SOURCES

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
    )


def _context(state: CallState, **extra: Any) -> dict[str, Any]:
    """What the call's later events carry back: the response, and where in the conversation they belong."""
    return {"r": state.response_id, **extra}


def _event_time(event: Event, now: datetime) -> str:
    return (event.occurred_at or now).isoformat()


def on_initiated(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """An inbound call rings: answer it, naming the response in client_state."""
    if state.direction != "incoming":
        return []
    return [Command("answer", "answer", _context(state))]


def on_answered(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The call is up: hand the form to the voice AI."""
    state.answered_at = state.answered_at or event.occurred_at or now
    if state.ai_status is not None:
        return []
    return [Command("ask_ai", "ai", _context(state, s="ai"))]


def on_partial_results(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Keep each partial answer that fits its field, unless a newer or final one is already there."""
    partial = event.payload.get("partial_results")
    heard_at = _event_time(event, now)
    if isinstance(partial, Mapping):
        for name, value in flatten(form, partial).items():
            if state.sources.get(name) in FINAL_SOURCES:
                continue
            if state.answer_times.get(name, "") > heard_at or validate_field(form.field(name), value):
                continue
            state.answers[name], state.sources[name], state.answer_times[name] = value, "ai_partial", heard_at
    _keep_newest_history(event, state, now)
    return []


def on_history_updated(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Keep the newest transcript."""
    _keep_newest_history(event, state, now)
    return []


def on_ai_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Store what the AI got right; queue the rest for the keypad, in form order."""
    _keep_newest_history(event, state, now)
    if state.ai_status is not None:
        return []
    status = event.payload.get("status")
    state.ai_status = status if status in ("valid", "invalid") else "invalid"
    result = event.payload.get("result")
    if state.ai_status == "valid" and isinstance(result, Mapping):
        valid, _errors = validate_answers(form, result)
        heard_at = _event_time(event, now)
        for name, value in valid.items():
            if state.sources.get(name) != "dtmf":
                state.answers[name], state.sources[name], state.answer_times[name] = value, "ai", heard_at
    state.keypad_queue = [
        f.name for f in form.fields if f.keypad is not None and state.sources.get(f.name) not in FINAL_SOURCES
    ]
    return _ask_next(state, form, intro=True)


def on_gather_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """A keypad answer (or its absence) for the field named in client_state; then the next field."""
    name, attempt = event.client_state.get("f"), event.client_state.get("n")
    if not isinstance(name, str) or name != state.current_field:
        return []
    if any(a["field"] == name and a["n"] == attempt for a in state.keypad_attempts):
        return []
    status = str(event.payload.get("status") or "invalid")
    digits = str(event.payload.get("digits") or "")
    record: dict[str, Any] = {"field": name, "n": attempt, "status": status, "digits": digits,
                              "at": _event_time(event, now)}
    state.keypad_attempts.append(record)
    if status == "call_hangup":
        return []
    if status == "valid":
        try:
            value = parse_digits(form.field(name), digits)
        except DigitsError as exc:
            record["error"] = exc.reason
            tries = sum(1 for a in state.keypad_attempts if a["field"] == name)
            if tries < int(form.dtmf.get("maximum_tries", 3)):
                return [_gather_command(state, name, tries + 1, retry=exc.reason)]
        else:
            state.answers[name], state.sources[name] = value, "dtmf"
            state.answer_times[name] = record["at"]
    if state.keypad_queue and state.keypad_queue[0] == name:
        state.keypad_queue.pop(0)
    state.current_field = None
    return _ask_next(state, form, intro=False)


def on_speak_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The closing words were spoken: end the call."""
    if event.client_state.get("s") != "closing":
        return []
    return [_hangup(state)]


def on_hangup(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The call is over: keep every answer, store why it ended."""
    state.ended_at = state.ended_at or event.occurred_at or now
    cause, source = event.payload.get("hangup_cause"), event.payload.get("hangup_source")
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
    if step == "ai" and state.ai_status is None:
        state.ai_status = "failed"
        state.keypad_queue = [f.name for f in form.fields if f.keypad is not None]
        return _ask_next(state, form, intro=True)
    if step.startswith("keypad:") and state.current_field is not None:
        if state.keypad_queue and state.keypad_queue[0] == state.current_field:
            state.keypad_queue.pop(0)
        state.current_field = None
        return _ask_next(state, form, intro=False)
    if step in ("closing", "ai-done"):
        return [_hangup(state)]
    return []


def _ask_next(state: CallState, form: Form, *, intro: bool) -> list[Command]:
    if state.ended_at is not None:
        return []
    if state.keypad_queue:
        name = state.keypad_queue[0]
        state.current_field = name
        return [_gather_command(state, name, 1, intro=intro)]
    asked_on_keypad = bool(state.keypad_attempts)
    if asked_on_keypad and form.dtmf.get("closing"):
        return [Command("speak", "closing", _context(state, s="closing"), {"text": str(form.dtmf["closing"])})]
    return [_hangup(state)]


def _hangup(state: CallState) -> Command:
    return Command("hangup", "hangup", _context(state, s="hangup"))


def _gather_command(state: CallState, name: str, attempt: int, *, intro: bool = False,
                    retry: str | None = None) -> Command:
    state.current_field = name
    context = _context(state, s="keypad", f=name, n=attempt)
    return Command("ask_keypad", f"keypad:{name}:{attempt}", context, {"field": name, "intro": intro, "retry": retry})


def _keep_newest_history(event: Event, state: CallState, now: datetime) -> None:
    history = event.payload.get("message_history")
    if not isinstance(history, list):
        return
    at = _event_time(event, now)
    newer = state.message_history_at is None or at > state.message_history_at
    same_time_longer = at == state.message_history_at and len(history) > len(state.message_history)
    if newer or same_time_longer:
        state.message_history, state.message_history_at = history, at


HANDLERS: dict[str, Handler] = {
    "call.initiated": on_initiated,
    "call.answered": on_answered,
    "call.ai_gather.partial_results": on_partial_results,
    "call.ai_gather.message_history_updated": on_history_updated,
    "call.ai_gather.ended": on_ai_ended,
    "call.gather.ended": on_gather_ended,
    "call.speak.ended": on_speak_ended,
    "call.hangup": on_hangup,
    "survey_bot.command_failed": on_command_failed,
}
