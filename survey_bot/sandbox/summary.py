"""What a played call collected, as the demo and `survey-bot simulate` print it for people to read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from survey_bot.sandbox.simulate import CallOutcome
from survey_bot.vocabulary import SOURCE_NAMES

__all__ = ["describe", "totals"]


def describe(outcome: CallOutcome) -> list[str]:
    """A call's summary: how it ended, each answer and who got it, the keypad attempts, the check's result."""
    lines = [f"== {outcome.name}"]
    if outcome.error is not None:
        return [*lines, f"   FAIL: {outcome.error}"]
    cause = f", hang-up cause {outcome.hangup_cause}" if outcome.hangup_cause else ""
    lines.append(f"   form {outcome.form_id}, from {outcome.from_number}, to {outcome.to_number}, "
                 f"locale {outcome.locale}, status {str(outcome.status).upper()}{cause}")
    for name, source in outcome.sources.items():
        said = _shown(outcome.answers[name]) if name in outcome.answers else "-"
        attempt = (outcome.provenance.get(name) or {}).get("attempt")
        how = SOURCE_NAMES.get(source, "?") + (f", {attempt}" if isinstance(attempt, str) and
                                                attempt.startswith("reask") else "")
        lines.append(f"   {name:<24} {said:<40} ({how})")
    for attempt in outcome.keypad_attempts:
        if isinstance(attempt, dict):
            note = f" - {attempt['error']}" if attempt.get("error") else ""
            digits = str(attempt.get("digits", ""))
            if attempt.get("kind") == "confirm":
                meaning = {"1": " (right)", "2": " (enter it again)"}.get(digits.rstrip("#"), "")
                lines.append(f"   keypad: {attempt.get('field')} read back -> {attempt.get('status')} "
                             f"{digits!r}{meaning}")
                continue
            lines.append(f"   keypad: {attempt.get('field')} -> {attempt.get('status')} {digits!r}{note}")
    if outcome.transcript_turns:
        lines.append(f"   transcript: {outcome.transcript_turns} turns")
    if outcome.checked:
        lines += [f"   FAIL {m.key}: expected {_shown(m.expected)}, got {_shown(m.got)}" for m in outcome.mismatches]
        if not outcome.mismatches:
            lines.append("   PASS: as expected")
    return lines


def totals(outcomes: Iterable[CallOutcome]) -> str:
    """One line: how many calls were played and, of those checked, how many met their expectations."""
    played = list(outcomes)
    checked = [o for o in played if o.checked or o.error]
    failed = [o for o in checked if not o.passed]
    text = f"{len(played)} call(s) played"
    if checked:
        text += f", {len(checked) - len(failed)} of {len(checked)} as expected"
    if failed:
        text += "; failed: " + ", ".join(repr(o.name) for o in failed)
    return text


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
