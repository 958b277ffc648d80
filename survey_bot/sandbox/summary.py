"""What a played call collected, as the demo and `survey-bot simulate` print it for people to read."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from survey_bot.reports.campaigns import report_lines
from survey_bot.sandbox.campaign_runs import CampaignOutcome
from survey_bot.sandbox.simulate import CallOutcome
from survey_bot.vocabulary import SOURCE_NAMES

__all__ = ["describe", "describe_campaign", "totals"]


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


def describe_campaign(outcome: CampaignOutcome) -> list[str]:
    """A campaign's summary: how it ended, each contact's disposition and dials, the check's result, its report."""
    ended = "stuck" if outcome.error else "cancelled (nothing was due within 5 s)" if outcome.cancelled \
        else "finished"
    lines = [f"== campaign {outcome.name!r} on {outcome.form_id}: {len(outcome.contacts)} contacts, "
             f"{outcome.calls} calls, {ended}", *(f"   {note}" for note in outcome.notes)]
    if outcome.error is not None:
        lines.append(f"   FAIL: {outcome.error}")
    for contact in outcome.contacts:
        dials = ", ".join(str(seen) for seen in contact.outcomes) or "never dialled"
        status = f", response {contact.status}" if contact.status else ""
        verdict = "" if not contact.checked else "  PASS" if contact.passed else "  FAIL"
        lines.append(f"   {contact.name:<28} {contact.phone:<13} {contact.disposition} {contact.disposition_code}"
                     f" ({dials}){status}{verdict}")
        lines += [f"      FAIL {m.key}: expected {_shown(m.expected)}, got {_shown(m.got)}" for m in contact.mismatches]
    if outcome.report is not None:
        lines += ["   " + line for line in report_lines(outcome.report)]
    return lines


def totals(outcomes: Iterable[CallOutcome], campaigns: Iterable[CampaignOutcome] = ()) -> str:
    """One line: how many calls (and campaign contacts) were played and, of those checked, how many met their
    expectations."""
    played, runs = list(outcomes), list(campaigns)
    contacts = [(c.name, c.checked, c.passed) for run in runs for c in run.contacts]
    contacts += [(run.name, True, False) for run in runs if run.error]
    checked = [(o.name, o.checked or o.error, o.passed) for o in played] + contacts
    judged = [(name, passed) for name, was_checked, passed in checked if was_checked]
    failed = [name for name, passed in judged if not passed]
    text = f"{len(played)} call(s) played"
    if contacts:
        text += f", {sum(len(run.contacts) for run in runs)} campaign contact(s)"
    if judged:
        text += f", {len(judged) - len(failed)} of {len(judged)} as expected"
    if failed:
        text += "; failed: " + ", ".join(repr(name) for name in failed)
    return text


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
