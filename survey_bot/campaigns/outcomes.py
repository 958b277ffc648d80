"""What one dial came to, in the attempt outcome words of campaigns.dispositions: the one classification the
scheduler stores on an attempt, the reports count and scenario files' `expect.outcome` checks.

From the facts of a finished call: whether it was answered, Telnyx's hang-up cause (or survey-bot's own:
opt_out, machine, lost), the answering machine detection's result and whether a voicemail was left, the
response's status and whether at least half of its relevant required fields were answered (a breakoff with
that much is a partial interview, AAPOR 1.2), and whether the person hung up during the disclosure (a
refusal, 2.11).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from survey_bot.campaigns.dispositions import (
    BREAK_OFF,
    BUSY,
    COMPLETE,
    FAX,
    INVALID_NUMBER,
    MACHINE,
    MACHINE_VOICEMAIL,
    NO_ANSWER,
    OPT_OUT,
    PARTIAL,
    REFUSAL,
    TECHNICAL,
)
from survey_bot.flow.opening import HUMAN_RESULTS
from survey_bot.flow.state import CallState
from survey_bot.forms.model import Form
from survey_bot.vocabulary import ABANDONED, COMPLETED, FINAL_SOURCES
from survey_bot.vocabulary import INVALID_NUMBER as INVALID_NUMBER_CAUSE
from survey_bot.vocabulary import MACHINE as MACHINE_CAUSE
from survey_bot.vocabulary import OPT_OUT as OPT_OUT_CAUSE
from survey_bot.vocabulary import PARTIAL as PARTIAL_STATUS

__all__ = ["AttemptFacts", "attempt_outcome", "facts_of", "half_answered"]

# Telnyx's hang-up causes of a dial nobody took.
# survey-bot's own `invalid_number`: Telnyx refused the dial because of the number (any other refusal: technical).
_UNANSWERED = {"user_busy": BUSY, "not_found": INVALID_NUMBER, "no_answer": NO_ANSWER, "timeout": NO_ANSWER,
               "originator_cancel": NO_ANSWER, "call_rejected": NO_ANSWER, INVALID_NUMBER_CAUSE: INVALID_NUMBER}


@dataclass(frozen=True)
class AttemptFacts:
    """What is known of one finished dial."""

    answered: bool  # call.answered came: a person, a machine or a fax picked up
    hangup_cause: str | None = None  # Telnyx's, or survey-bot's own (opt_out, machine, lost)
    amd_result: str | None = None  # call.machine.*detection.ended's result (machine when only a greeting ended)
    voicemail_left: bool = False
    status: str | None = None  # the response's status
    half_answered: bool = False  # at least half of the relevant required fields have a final answer
    disclosure_unheard: bool = False  # the person hung up while the disclosure was said
    opted_out: bool = False


def attempt_outcome(facts: AttemptFacts) -> str:
    """The attempt outcome word (dispositions.ATTEMPT_OUTCOMES) for a finished dial."""
    if facts.opted_out or facts.hangup_cause == OPT_OUT_CAUSE:
        return OPT_OUT
    if facts.amd_result == "fax_detected":
        return FAX
    if facts.amd_result == "machine" or facts.hangup_cause == MACHINE_CAUSE:
        return MACHINE_VOICEMAIL if facts.voicemail_left else MACHINE
    if not facts.answered:
        return _UNANSWERED.get(str(facts.hangup_cause), TECHNICAL)
    if facts.amd_result is not None and facts.amd_result not in HUMAN_RESULTS:
        return TECHNICAL  # a verdict survey-bot does not know
    if facts.status == COMPLETED:
        return COMPLETE
    if facts.disclosure_unheard:
        return REFUSAL
    if facts.status in (PARTIAL_STATUS, ABANDONED):
        return PARTIAL if facts.half_answered else BREAK_OFF
    return TECHNICAL  # answered, yet no interview came of it (the call failed)


def half_answered(form: Form, answers: Mapping[str, Any], sources: Mapping[str, str]) -> bool:
    """Whether at least half of the response's relevant required fields have a final answer (none required:
    whether any field was answered)."""
    required = form.relevance(answers, sources).required
    answered = sum(1 for name in required if sources.get(name) in FINAL_SOURCES)
    if not required:
        return any(source in FINAL_SOURCES for source in sources.values())
    return 2 * answered >= len(required)


def facts_of(state: CallState, form: Form) -> AttemptFacts:
    """The facts of a response's call, from its state once it has ended."""
    outreach = state.outreach
    return AttemptFacts(
        answered=state.answered_at is not None, hangup_cause=state.hangup_cause,
        amd_result=outreach.get("result"), voicemail_left=bool(outreach.get("voicemail_left")),
        status=state.status, half_answered=half_answered(form, state.answers, state.sources),
        disclosure_unheard=outreach.get("disclosure") == "spoken", opted_out=bool(outreach.get("opt_out")))
