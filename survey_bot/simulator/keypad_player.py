"""The scripted caller on the keypad: each `gather_using_speak` (or `gather`) prompt answered from the script.

A list script is played one entry per command, whatever the field (the oldest scenarios). A script by field
is played as Telnyx plays a gather: within one command, a timeout or an invalid entry repeats the prompt while
`maximum_tries` remain; the gather ends on digits, or on the last try with that try's outcome. The field a
prompt asks for is read from survey-bot's client_state (`f`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from survey_bot.simulator.call_events import Planned, Reaction, hang_up
from survey_bot.simulator.calls import Call
from survey_bot.simulator.scenario import KeypadEntry, KeypadHangup, KeypadInvalid, KeypadTimeout

__all__ = ["play_keypad"]


def play_keypad(call: Call, body: Mapping[str, Any]) -> Reaction:
    """Answer one keypad prompt as the script says."""
    scenario, field = call.scenario, _asked_field(body)
    first = not call.keypad_asked
    call.keypad_asked = True
    if (scenario.hangup == "before_keypad" and first) or scenario.hangup == ("keypad_field", field) \
            or scenario.who_answers() != "human":
        return _caller_left(call)
    if isinstance(scenario.keypad, list):
        script = scenario.keypad
        next_entry = script[call.keypad_used] if call.keypad_used < len(script) else KeypadHangup()
        call.keypad_used += 1
        return _ended(call, next_entry)
    tries = body.get("maximum_tries", 3)
    tries = tries if isinstance(tries, int) and tries > 0 else 3
    entries = scenario.keypad.get(field or "", [])
    entry: KeypadEntry = KeypadTimeout()
    for _try in range(tries):
        position = call.keypad_positions.get(field or "", 0)
        entry = entries[position] if position < len(entries) else KeypadTimeout()
        call.keypad_positions[field or ""] = position + 1
        if not isinstance(entry, KeypadTimeout | KeypadInvalid):
            break  # digits or a hang-up end the gather; a timeout or an invalid entry is prompted again
    return _ended(call, entry)


def _ended(call: Call, entry: KeypadEntry) -> Reaction:
    if isinstance(entry, KeypadTimeout):
        return Reaction([("call.gather.ended", {"digits": "", "status": "timeout"})])
    if isinstance(entry, KeypadHangup):
        return _caller_left(call)
    digits, status = (entry.digits, "invalid") if isinstance(entry, KeypadInvalid) else (entry, "valid")
    events: list[Planned] = [("call.dtmf.received", {"digit": d}) for d in digits]
    events.append(("call.gather.ended", {"digits": digits, "status": status}))
    return Reaction(events)


def _caller_left(call: Call) -> Reaction:
    ended: list[Planned] = [("call.gather.ended", {"digits": "", "status": "call_hangup"})]
    return Reaction(ended + hang_up(call, "normal_clearing", by_person=True))


def _asked_field(body: Mapping[str, Any]) -> str | None:
    """The field survey-bot asks for, from its client_state ({"f": name}), if it says."""
    try:
        state = json.loads(base64.b64decode(str(body.get("client_state") or ""), validate=True))
    except (binascii.Error, ValueError):
        return None
    field = state.get("f") if isinstance(state, dict) else None
    return field if isinstance(field, str) else None
