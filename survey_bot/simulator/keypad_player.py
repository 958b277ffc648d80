"""The scripted caller on the keypad: each `gather_using_speak` (`gather_using_audio`, `gather`) prompt answered
from the script.

A list script is played one entry per command, whatever the field (the oldest scenarios). A script by field
is played as Telnyx plays a gather: within one command, a timeout or an invalid entry repeats the prompt while
`maximum_tries` remain; the gather ends on digits, or on the last try with that try's outcome. The field a
prompt asks for is read from survey-bot's client_state (`f`).

The form's disclosure (who calls and why, `s` "disclosure") hears the scenario's `disclosure_keys`, silence, or
the caller hanging up (`hangup: during_disclosure`).

A read-back ("You entered March 5, 1984. Press 1 if that is right, 2 to enter it again.") takes the field's
next entry when that entry is a 1 or a 2; otherwise the caller presses 1 without using an entry (a list script
always confirms).
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
    scenario, (field, kind) = call.scenario, _asked(body)
    if kind == "confirm":
        return _ended(call, _confirmation(call, field))
    if kind == "language":  # the language menu: the script's `language` keys (none: no key pressed)
        entries = scenario.keypad.get("language", []) if isinstance(scenario.keypad, dict) else []
        position = call.keypad_positions.get("language", 0)
        call.keypad_positions["language"] = position + 1
        return _ended(call, entries[position] if position < len(entries) else KeypadTimeout())
    if kind == "disclosure":  # who calls and why: the caller listens, presses a key, or hangs up
        if scenario.hangup == "during_disclosure":
            return _caller_left(call)
        keys = scenario.disclosure_keys if scenario.who_answers() == "human" else None
        return _ended(call, keys or KeypadTimeout())
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


def _confirmation(call: Call, field: str | None) -> KeypadEntry:
    """The caller's answer to a read-back: the field's next entry if it is a 1 or a 2, else a 1."""
    if isinstance(call.scenario.keypad, list) or field is None:
        return "1"
    entries = call.scenario.keypad.get(field, [])
    position = call.keypad_positions.get(field, 0)
    entry = entries[position] if position < len(entries) else None
    if isinstance(entry, str) and entry.rstrip("#") in ("1", "2"):
        call.keypad_positions[field] = position + 1
        return entry
    if isinstance(entry, KeypadHangup):
        call.keypad_positions[field] = position + 1
        return entry
    return "1"


def _asked(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The field survey-bot asks for and the kind of prompt (keypad, confirm), from its client_state."""
    try:
        state = json.loads(base64.b64decode(str(body.get("client_state") or ""), validate=True))
    except (binascii.Error, ValueError):
        return None, None
    if not isinstance(state, dict):
        return None, None
    field, kind = state.get("f"), state.get("s")
    return (field if isinstance(field, str) else None), (kind if isinstance(kind, str) else None)
