"""The events a simulated call emits when it starts, is answered or ends, shaped as Telnyx's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from survey_bot.simulator.calls import Call

__all__ = ["Planned", "Reaction", "answered", "hang_up", "initiated"]

Planned = tuple[str, dict[str, Any]]  # (event_type, payload fields beyond the common ones)

_SIP_CAUSES = {"normal_clearing": "unspecified", "no_answer": "480", "user_busy": "486", "not_found": "404"}
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


def answered(call: Call) -> list[Planned]:
    """The call is up."""
    call.state = "answered"
    return [("call.answered", {"state": "answered", "start_time": call.start_time, "tags": []})]


def hang_up(call: Call, cause: str, *, by_person: bool, sip: str | None = None) -> list[Planned]:
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
