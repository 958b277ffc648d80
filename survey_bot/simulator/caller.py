"""Play the scripted caller: turn each accepted command into the call's new state and the events it causes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from survey_bot.simulator.calls import Call
from survey_bot.simulator.scenario import KeypadHangup, KeypadInvalid, KeypadTimeout

__all__ = ["NEEDS_ANSWER", "Reaction", "dial_outcome", "initiated", "react"]

Planned = tuple[str, dict[str, Any]]  # (event_type, payload fields beyond the common ones)

# Media commands Telnyx only takes on an answered call (422 90034 before that).
NEEDS_ANSWER = frozenset({"speak", "gather", "gather_stop", "gather_using_ai", "gather_using_speak"})

_REJECT_CAUSES = {  # reject's `cause` -> (hangup_cause, SIP code the caller gets)
    "CALL_REJECTED": ("call_rejected", "603"),
    "USER_BUSY": ("user_busy", "486"),
    "NOT_FOUND": ("not_found", "404"),
    "TEMPORARILY_UNAVAILABLE": ("unspecified", "480"),
}
_SIP_CAUSES = {"normal_clearing": "unspecified", "no_answer": "480", "user_busy": "486"}
_QUALITY = {
    "inbound": {
        "jitter_max_variance": "2.74",
        "jitter_packet_count": "0",
        "mos": "4.50",
        "packet_count": "2210",
        "skip_packet_count": "9",
    },
    "outbound": {"packet_count": "2190", "skip_packet_count": "0"},
}


@dataclass
class Reaction:
    """What one command did: the events it causes, in order, and extra fields for its 200 answer."""

    events: list[Planned] = field(default_factory=list)
    response: dict[str, Any] = field(default_factory=dict)


def initiated(call: Call) -> list[Planned]:
    """Return the `call.initiated` that opens a call."""
    return [
        (
            "call.initiated",
            {
                "direction": call.direction,
                "state": call.state,
                "start_time": call.start_time,
                "caller_id_name": call.from_number,
                "connection_codecs": "G722,PCMU,PCMA",
                "offered_codecs": "PCMU,PCMA",
                "tags": [],
            },
        )
    ]


def dial_outcome(call: Call) -> list[Planned]:
    """Return what an outgoing call does after dialling: initiated, then answered or a hangup."""
    events = initiated(call)
    if call.scenario.answers:
        events += _answered(call)
    else:
        events += _hang_up(call, call.scenario.no_answer_cause, by_person=True)
    return events


def react(call: Call, action: str, body: Mapping[str, Any]) -> Reaction:
    """Apply an accepted `action` to `call` and return the events the scripted caller produces."""
    return _REACTIONS[action](call, body)


def _answered(call: Call) -> list[Planned]:
    call.state = "answered"
    return [("call.answered", {"state": "answered", "start_time": call.start_time, "tags": []})]


def _hang_up(call: Call, cause: str, *, by_person: bool, sip: str | None = None) -> list[Planned]:
    """Hang the call up. The person is the caller on incoming calls and the callee on outgoing ones."""
    person, app = ("caller", "callee") if call.direction == "incoming" else ("callee", "caller")
    extras: dict[str, Any] = {
        "start_time": call.start_time,
        "state": "hangup",
        "hangup_cause": cause,
        "hangup_source": person if by_person else app,
        "sip_hangup_cause": sip or _SIP_CAUSES.get(cause, "unspecified"),
        "tags": [],
    }
    if call.state == "answered":
        extras["call_quality_stats"] = _QUALITY
    call.state = "hangup"
    return [("call.hangup", extras)]


def _answer(call: Call, body: Mapping[str, Any]) -> Reaction:
    # Answering an answered call is accepted and does nothing (Telnyx's answer here: not found).
    return Reaction(_answered(call) if call.state != "answered" else [])


def _reject(call: Call, body: Mapping[str, Any]) -> Reaction:
    cause, sip = _REJECT_CAUSES[body["cause"]]
    return Reaction(_hang_up(call, cause, by_person=False, sip=sip))


def _hangup(call: Call, body: Mapping[str, Any]) -> Reaction:
    return Reaction(_hang_up(call, "normal_clearing", by_person=False))


def _speak(call: Call, body: Mapping[str, Any]) -> Reaction:
    return Reaction([("call.speak.started", {}), ("call.speak.ended", {"status": "completed"})])


def _gather_stop(call: Call, body: Mapping[str, Any]) -> Reaction:
    return Reaction([("call.gather.ended", {"digits": "", "status": "cancelled"})])


def _noop(call: Call, body: Mapping[str, Any]) -> Reaction:
    return Reaction()


def _keypad(call: Call, body: Mapping[str, Any]) -> Reaction:
    """Play the next keypad entry; once the script runs out, the caller hangs up."""
    script = call.scenario.keypad
    entry = script[call.keypad_used] if call.keypad_used < len(script) else KeypadHangup()
    call.keypad_used += 1
    if isinstance(entry, KeypadTimeout):
        return Reaction([("call.gather.ended", {"digits": "", "status": "timeout"})])
    if isinstance(entry, KeypadHangup):
        ended: list[Planned] = [("call.gather.ended", {"digits": "", "status": "call_hangup"})]
        return Reaction(ended + _hang_up(call, "normal_clearing", by_person=True))
    digits, status = (entry.digits, "invalid") if isinstance(entry, KeypadInvalid) else (entry, "valid")
    events: list[Planned] = [("call.dtmf.received", {"digit": d}) for d in digits]
    events.append(("call.gather.ended", {"digits": digits, "status": status}))
    return Reaction(events)


def _gather_using_ai(call: Call, body: Mapping[str, Any]) -> Reaction:
    """Hear the scripted AI steps; report them as the flags in `body` ask, then end (or hang up)."""
    scenario = call.scenario
    limit = scenario.hangup_during_ai_after
    steps = scenario.ai_steps if limit is None else scenario.ai_steps[:limit]
    history: list[dict[str, str]] = []
    events: list[Planned] = []
    for step in steps:
        history += [{"role": "assistant", "content": step.assistant}, {"role": "user", "content": step.user}]
        if body.get("send_partial_results", False):
            partial = {"partial_results": dict(step.partial_results), "message_history": list(history)}
            events.append(("call.ai_gather.partial_results", partial))
        if body.get("send_message_history_updates", False):
            events.append(("call.ai_gather.message_history_updated", {"message_history": list(history)}))
    conversation_id = str(uuid.uuid4())
    if limit is not None:
        hangup = _hang_up(call, "normal_clearing", by_person=True)
        return Reaction(events + hangup, {"conversation_id": conversation_id})
    result = scenario.ai_result
    if result is None and scenario.ai_status == "valid" and steps:
        result = dict(steps[-1].partial_results)
    ended = {"result": result, "status": scenario.ai_status, "message_history": history}
    events.append(("call.ai_gather.ended", ended))
    events.append(("call.conversation.ended", _conversation_ended(conversation_id, body, history)))
    return Reaction(events, {"conversation_id": conversation_id})


def _conversation_ended(conversation_id: str, body: Mapping[str, Any], history: list[dict[str, str]]) -> dict[str, Any]:
    voice = str(body.get("voice", "Telnyx.KokoroTTS.af"))
    parts = voice.split(".", 2)
    provider, model, voice_id = parts if len(parts) == 3 else ("telnyx", "", voice)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "conversation_id": conversation_id,
        "calling_party_type": "pstn",
        "duration_sec": 5 * len(history) // 2,  # a plausible 5 s per exchange; nothing waits in the simulator
        "llm_model": (body.get("assistant") or {}).get("model", "Qwen/Qwen3-235B-A22B"),
        "stt_model": (body.get("transcription") or {}).get("model", "distil-whisper/distil-large-v2"),
        "tts_provider": provider.lower(),
        "tts_model_id": model,
        "tts_voice_id": voice_id,
        "reason": None,
        "messages": [{**turn, "timestamp": stamp} for turn in history],
    }


_REACTIONS: dict[str, Callable[[Call, Mapping[str, Any]], Reaction]] = {
    "answer": _answer,
    "reject": _reject,
    "hangup": _hangup,
    "speak": _speak,
    "gather": _keypad,
    "gather_using_speak": _keypad,
    "gather_stop": _gather_stop,
    "gather_using_ai": _gather_using_ai,
    "client_state_update": _noop,
}
