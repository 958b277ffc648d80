"""Play the scripted caller: turn each accepted command into the call's new state and the events it causes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from survey_bot.simulator.ai_player import play_ai_gather
from survey_bot.simulator.call_events import Planned, Reaction, answered, hang_up, initiated
from survey_bot.simulator.calls import Call
from survey_bot.simulator.keypad_player import play_keypad
from survey_bot.simulator.machines import amd_events

__all__ = ["NEEDS_ANSWER", "Reaction", "initiated", "picked_up", "react", "rings"]

# Media commands Telnyx only takes on an answered call (422 90034 before that).
NEEDS_ANSWER = frozenset({"speak", "gather", "gather_stop", "gather_using_ai", "gather_using_speak",
                          "gather_using_audio", "playback_start"})

_REJECT_CAUSES = {  # reject's `cause` -> (hangup_cause, SIP code the caller gets)
    "CALL_REJECTED": ("call_rejected", "603"),
    "USER_BUSY": ("user_busy", "486"),
    "NOT_FOUND": ("not_found", "404"),
    "TEMPORARILY_UNAVAILABLE": ("unspecified", "480"),
}
# What an outbound call's callee does when nobody answers: the hangup cause Telnyx reports.
_NOT_ANSWERED = {"busy": "user_busy", "no_answer": "no_answer", "invalid_number": "not_found"}


def rings(call: Call) -> bool:
    """Whether the dialled phone rings `ring_s` before its callee picks up or Telnyx gives up on it (a busy
    line or a number that does not exist ends the dial at once)."""
    return call.scenario.ring_s > 0 and call.scenario.who_answers() not in ("busy", "invalid_number")


def picked_up(call: Call) -> tuple[list[Planned], list[Planned]]:
    """Return what an outgoing call does once it stops ringing: answered (and what the dial's answering machine
    detection found) or a hangup; and the events of a machine's greeting ending, sent a little later."""
    callee = call.scenario.who_answers()
    if callee in _NOT_ANSWERED:
        return hang_up(call, _NOT_ANSWERED[callee], by_person=True), []
    detected, greeting = amd_events(call.amd, callee)
    return answered(call) + detected, greeting  # a person, or a machine or fax that picks up


def react(call: Call, action: str, body: Mapping[str, Any]) -> Reaction:
    """Apply an accepted `action` to `call` and return the events the scripted caller produces."""
    return _REACTIONS[action](call, body)


def _answer(call: Call, body: Mapping[str, Any]) -> Reaction:
    # Answering an answered call is accepted and does nothing (Telnyx's answer here: not found).
    return Reaction(answered(call) if call.state != "answered" else [])


def _reject(call: Call, body: Mapping[str, Any]) -> Reaction:
    cause, sip = _REJECT_CAUSES[body["cause"]]
    return Reaction(hang_up(call, cause, by_person=False, sip=sip))


def _hangup(call: Call, body: Mapping[str, Any]) -> Reaction:
    return Reaction(hang_up(call, "normal_clearing", by_person=False))


def _speak(call: Call, body: Mapping[str, Any]) -> Reaction:
    return Reaction([("call.speak.started", {}), ("call.speak.ended", {"status": "completed"})])


def _playback(call: Call, body: Mapping[str, Any]) -> Reaction:
    # The caller listens to the whole recording (Telnyx names the file it played).
    played = {"media_url": body["audio_url"]} if isinstance(body.get("audio_url"), str) else {}
    return Reaction([("call.playback.started", played), ("call.playback.ended", {**played, "status": "completed"})])


def _gather_stop(call: Call, body: Mapping[str, Any]) -> Reaction:
    return Reaction([("call.gather.ended", {"digits": "", "status": "cancelled"})])


def _noop(call: Call, body: Mapping[str, Any]) -> Reaction:
    return Reaction()


_REACTIONS: dict[str, Callable[[Call, Mapping[str, Any]], Reaction]] = {
    "answer": _answer,
    "reject": _reject,
    "hangup": _hangup,
    "speak": _speak,
    "gather": play_keypad,
    "gather_using_speak": play_keypad,
    "gather_using_audio": play_keypad,
    "playback_start": _playback,
    "gather_stop": _gather_stop,
    "gather_using_ai": play_ai_gather,
    "client_state_update": _noop,
}
