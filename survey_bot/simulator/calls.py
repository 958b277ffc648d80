"""Hold one simulated call's identity and state, and build the Telnyx webhook bodies it emits."""

from __future__ import annotations

import base64
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from survey_bot.simulator.scenario import Scenario

__all__ = ["Call", "CallState", "new_call", "new_call_control_id", "utc_now_iso"]

CallState = Literal["parked", "bridging", "answered", "hangup"]

# Events whose payload carries no from/to (per the examples and the SDK models).
_NO_PARTIES = frozenset({"call.speak.started", "call.speak.ended", "call.playback.started", "call.playback.ended"})


def utc_now_iso() -> str:
    """Return now as Telnyx writes timestamps: ISO 8601, microseconds, "Z"."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_call_control_id() -> str:
    """Return an id shaped like Telnyx's: "v3:" and 54 URL-safe base64 characters."""
    return "v3:" + base64.urlsafe_b64encode(os.urandom(40)).decode("ascii").rstrip("=")


@dataclass
class Call:
    """One call leg as the simulator tracks it."""

    call_control_id: str
    call_leg_id: str
    call_session_id: str
    connection_id: str
    direction: Literal["incoming", "outgoing"]
    from_number: str
    to_number: str
    scenario: Scenario
    state: CallState
    start_time: str = field(default_factory=utc_now_iso)
    client_state: str | None = None
    amd: str | None = None  # the dial's answering_machine_detection mode
    keypad_used: int = 0  # entries of a list keypad script played
    keypad_positions: dict[str, int] = field(default_factory=dict)  # per field, of a keypad script by field
    keypad_asked: bool = False
    ai_used: int = 0  # AI gathers played
    history: list[dict[str, str]] = field(default_factory=list)  # the transcript so far
    # command_id -> (monotonic time first accepted, the answer given), for Telnyx's de-duplication.
    commands: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        """Return whether the call has hung up."""
        return self.state == "hangup"

    def status(self) -> dict[str, Any]:
        """GET /calls/{id}'s data: the call's ids and whether it is alive (a dialled call is not, yet)."""
        return {"call_control_id": self.call_control_id, "call_leg_id": self.call_leg_id,
                "call_session_id": self.call_session_id, "record_type": "call", "start_time": self.start_time,
                "is_alive": self.state in ("parked", "answered")}

    def prior_response(self, command_id: str | None, window_s: float) -> dict[str, Any] | None:
        """Return the answer given to `command_id` on this call within `window_s` seconds, if any."""
        if command_id is None or command_id not in self.commands:
            return None
        first, data = self.commands[command_id]
        return data if time.monotonic() - first < window_s else None

    def remember_command(self, command_id: str | None, data: dict[str, Any]) -> None:
        """Record an accepted `command_id` and the answer it got."""
        if command_id is not None:
            self.commands[command_id] = (time.monotonic(), data)

    def event(self, event_type: str, extras: dict[str, Any]) -> dict[str, Any]:
        """Return the webhook body (without `meta`, added per delivery attempt) for one event now."""
        payload: dict[str, Any] = {
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "connection_id": self.connection_id,
        }
        if self.client_state is not None:
            payload["client_state"] = self.client_state
        if event_type not in _NO_PARTIES:
            payload["from"] = self.from_number
            payload["to"] = self.to_number
        payload.update(extras)
        now = utc_now_iso()
        data: dict[str, Any] = {
            "record_type": "event",
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": now,
        }
        if event_type == "call.conversation.ended":
            data["created_at"] = now
        data["payload"] = payload
        return {"data": data}


def new_call(
    scenario: Scenario,
    *,
    connection_id: str,
    direction: Literal["incoming", "outgoing"],
    from_number: str,
    to_number: str,
) -> Call:
    """Create a call with fresh Telnyx-shaped ids, parked (incoming) or bridging (outgoing)."""
    return Call(
        call_control_id=new_call_control_id(),
        call_leg_id=str(uuid.uuid4()),
        call_session_id=str(uuid.uuid4()),
        connection_id=connection_id,
        direction=direction,
        from_number=from_number,
        to_number=to_number,
        scenario=scenario,
        state="parked" if direction == "incoming" else "bridging",
    )
