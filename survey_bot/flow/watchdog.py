"""Calls Telnyx stopped telling us about, as pure decisions: how long a response may stay silent at the step
it awaits, and what to do when the watchdog finds it silent longer (event `survey_bot.watchdog`, whose
payload says whether Telnyx still has the call alive).

Telnyx retries an unacknowledged webhook for about a minute, then gives up: a response whose awaited webhook
was lost would stay `in_progress` forever, and a live caller in silence. Not alive: the response ends as the
caller left it (status from its answers, hang-up cause `lost`). Alive: the awaited step is issued again once
(a new command id), then the call is closed politely (closing words, then hang up), then hung up.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from survey_bot.flow.ai import reask, reask_fields
from survey_bot.flow.events import Event
from survey_bot.flow.keypad import ask_next, closing, prompt, read_back, tries
from survey_bot.flow.language import choose_default
from survey_bot.flow.opening import awaiting_detection, begin
from survey_bot.flow.state import CallState, Command
from survey_bot.flow.steps import contact_details, contact_values, context
from survey_bot.forms.model import Form
from survey_bot.utc import as_utc
from survey_bot.vocabulary import LOST, MACHINE

__all__ = ["RINGING_SECONDS", "WATCHDOG_EVENT", "awaited", "heard_since", "on_watchdog", "silence_allowed"]

WATCHDOG_EVENT = "survey_bot.watchdog"

RINGING_SECONDS = 30.0  # dial's timeout_secs (survey-bot dials with Telnyx's default)
MACHINE_SECONDS = 60.0  # a detection (a few seconds), a machine's greeting, a voicemail message
_SPEECH_CHARACTERS_PER_SECOND = 12.0  # a prompt of 120 characters takes about 10 s to speak
_AI_TURN_SECONDS = 30.0  # between transcript updates while the AI converses (each update resets the clock)


def awaited(state: CallState, form: Form | None = None) -> str | None:
    """What the response is waiting for: `ringing`, `answer`, `machine`, `language` (the menu), `disclosure`,
    `ai`, `keypad`, `confirm`, `closing`; None once the call has ended."""
    if state.ended_at is not None:
        return None
    if state.answered_at is None:
        return "ringing" if state.direction == "outgoing" else "answer"
    if awaiting_detection(state) or state.hangup_cause == MACHINE:
        return "machine"  # the detection's verdict, a machine's greeting, the voicemail message
    if not state.locale and form is not None and form.language_menu:
        return "language"
    if state.outreach.get("disclosure") == "spoken":
        return "disclosure"
    if state.finished_at is not None:
        return "closing"
    if state.readback is not None:
        return "confirm"
    if state.current_field is not None:
        return "keypad"
    return "ai"


def silence_allowed(state: CallState, form: Form) -> float | None:
    """Seconds the awaited step may take without any webhook (the watchdog adds its own margin)."""
    step = awaited(state, form)
    if step is None:
        return None
    if step == "ringing":
        return RINGING_SECONDS
    if step == "machine":
        return MACHINE_SECONDS
    if step == "disclosure":
        return 10.0 + len(form.disclosure_words(contact_values(state))) / _SPEECH_CHARACTERS_PER_SECOND
    if step == "ai":
        limit = form.voice.get("user_response_timeout_ms")
        return max(_AI_TURN_SECONDS, float(limit) / 1000 if isinstance(limit, int | float) else 0.0)
    if step == "language":  # the menu's sentences, then Telnyx's tries
        spoken = sum(len(form.for_locale(locale).phrases.text("menu.language", language=locale, digit=1))
                     for locale in form.locales)
        wait = float(form.dtmf.get("timeout_millis", 10_000)) / 1000 * int(form.dtmf.get("maximum_tries", 3))
        return wait + spoken / _SPEECH_CHARACTERS_PER_SECOND
    if step in ("keypad", "confirm"):
        wait = float(form.dtmf.get("timeout_millis", 10_000)) / 1000 * int(form.dtmf.get("maximum_tries", 3))
        spoken = len(form.field(state.current_field).prompt) if state.current_field in form.names else 120
        return wait + (spoken + len(str(form.dtmf.get("intro") or ""))) / _SPEECH_CHARACTERS_PER_SECOND
    return 10.0 + len(str(form.dtmf.get("closing") or "")) / _SPEECH_CHARACTERS_PER_SECOND  # answer, closing


def heard_since(event: Event, updated_at: datetime) -> bool:
    """Whether the response changed after the watchdog looked at it (the event's `seen`): a webhook came while
    Telnyx was being asked, so the silence the event reports is over and acting on it would repeat a step."""
    seen = event.payload.get("seen")
    try:
        looked = datetime.fromisoformat(seen) if isinstance(seen, str) else None
    except ValueError:
        looked = None
    return looked is not None and as_utc(updated_at) > as_utc(looked)


def on_watchdog(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The watchdog found the response silent past its allowance and asked Telnyx whether the call lives."""
    step = awaited(state, form)
    alive = event.payload.get("alive") is True
    state.watchdog.append({"at": (event.occurred_at or now).isoformat(), "awaiting": step,
                           "alive": alive, "action": _action(state, step, alive)})
    action = state.watchdog[-1]["action"]
    if action == "ended":
        state.ended_at = event.occurred_at or now
        state.hangup_cause = LOST
        return []
    if action == "reissued":
        return _again(state, form, step, now)
    suffix = f"~w{len(state.watchdog)}"
    if action == "closing" and (form.audio.get("closing") or form.dtmf.get("closing")):
        state.finished_at = state.finished_at or now
        return [closing(state, form, suffix)]
    return [Command("hangup", f"hangup{suffix}", context(state, s="hangup"))]


def _action(state: CallState, step: str | None, alive: bool) -> str:
    if step is None or not alive:
        return "ended"
    earlier = [note["action"] for note in state.watchdog]
    if step in ("ringing", "closing", "machine") or "closing" in earlier:
        return "hung_up"
    return "closing" if "reissued" in earlier else "reissued"


def _again(state: CallState, form: Form, step: str | None, now: datetime) -> list[Command]:
    """The awaited step once more, built as the flow first built it but with a step name (so a command id) of
    its own; its webhooks are matched as the first one's would have been (same client_state)."""
    if step == "language":  # the menu's answer never came: the default locale, and on (disclosure or AI)
        return begin(state, form, now) if choose_default(state, form) else []
    if step == "answer":
        again = Command("answer", "answer", context(state))
    elif step == "disclosure":
        again = Command("disclose", "disclosure", context(state, s="disclosure"), contact_details(state))
    elif step == "ai":
        again = reask(state, form, reask_fields(state, form, set())) if state.reasks \
            else Command("ask_ai", "ai", context(state, s="ai"), contact_details(state))
    elif step == "confirm" and state.readback is not None:
        pending = state.readback
        again = read_back(state, str(pending["field"]), pending["value"], int(pending["n"]))
    elif step == "keypad" and state.current_field is not None:
        name = state.current_field
        again = prompt(state, form, name, tries(state, name) + 1)
    else:
        return ask_next(state, form, now)
    return [dataclasses.replace(again, step=f"{again.step}~w{len(state.watchdog)}")]
