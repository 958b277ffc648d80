"""What Telnyx's answering machine detection says about an answered outbound call: the `call.machine.*`
webhooks each AMD mode sends for a person, a machine (its greeting ending in silence or a beep) or a fax.

Shapes and results follow the SDK's types (`call_machine_*`) and contract.md section 7: `premium` reports
`human_residence` / `machine` / `fax_detected` and, for a machine, `call.machine.premium.greeting.ended`
(`beep_detected` or `no_beep_detected`); `greeting_end` and `detect_words` report `human` / `machine`, then
`call.machine.greeting.ended` (`beep_detected` or `ended`) for a machine; `detect_beep` sends the greeting's
end only when a beep is heard; `detect` sends the detection alone. Without AMD nothing is sent.
"""

from __future__ import annotations

from survey_bot.simulator.call_events import Planned

__all__ = ["amd_events"]

_PREMIUM = frozenset({"premium", "premium_ios_call_screening_detection"})
_GREETING = frozenset({"greeting_end", "detect_words"})


def amd_events(mode: str | None, callee: str) -> tuple[list[Planned], list[Planned]]:
    """(sent once the detection is done, sent when the machine's greeting ends) for `callee` under `mode`."""
    if mode is None or mode == "disabled":
        return [], []
    if mode in _PREMIUM:
        result = {"human": "human_residence", "fax": "fax_detected"}.get(callee, "machine")
        detected: list[Planned] = [("call.machine.premium.detection.ended", {"result": result})]
        if result != "machine":
            return detected, []
        beep = "beep_detected" if callee == "machine_beep" else "no_beep_detected"
        return detected, [("call.machine.premium.greeting.ended", {"result": beep})]
    result = "human" if callee == "human" else "machine"
    detected = [("call.machine.detection.ended", {"result": result})]
    if result == "human":
        return detected, []
    if mode in _GREETING:
        ending = {"machine_beep": "beep_detected", "fax": "not_sure"}.get(callee, "ended")
        return detected, [("call.machine.greeting.ended", {"result": ending})]
    if mode == "detect_beep" and callee == "machine_beep":
        return detected, [("call.machine.greeting.ended", {"result": "beep_detected"})]
    return detected, []
