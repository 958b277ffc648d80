"""campaigns.outcomes: a finished dial's facts -> the attempt outcome word, on hand-built cases."""

from __future__ import annotations

import pytest

from survey_bot.campaigns.dispositions import ATTEMPT_OUTCOMES
from survey_bot.campaigns.outcomes import AttemptFacts, attempt_outcome

CASES = [
    (AttemptFacts(False, "user_busy"), "busy"),
    (AttemptFacts(False, "no_answer"), "no_answer"),
    (AttemptFacts(False, "timeout"), "no_answer"),
    (AttemptFacts(False, "not_found"), "invalid_number"),
    (AttemptFacts(False, "unspecified"), "technical"),
    (AttemptFacts(False, "lost"), "technical"),
    (AttemptFacts(True, "machine", "machine"), "machine"),
    (AttemptFacts(True, "machine", "machine", voicemail_left=True), "machine_voicemail"),
    (AttemptFacts(True, "machine", "fax_detected"), "fax"),
    (AttemptFacts(True, "normal_clearing", "human", status="completed", half_answered=True), "complete"),
    (AttemptFacts(True, "normal_clearing", None, status="partial", half_answered=True), "partial"),
    (AttemptFacts(True, "normal_clearing", None, status="abandoned", half_answered=True), "partial"),
    (AttemptFacts(True, "normal_clearing", None, status="abandoned"), "break_off"),
    (AttemptFacts(True, "normal_clearing", "not_sure", status="abandoned", disclosure_unheard=True), "refusal"),
    (AttemptFacts(True, "opt_out", "human", status="abandoned", opted_out=True), "opt_out"),
    (AttemptFacts(True, "normal_clearing", None, status="failed"), "technical"),
]


@pytest.mark.parametrize(("facts", "outcome"), CASES)
def test_each_kind_of_dial_gets_its_outcome_word(facts: AttemptFacts, outcome: str) -> None:
    assert attempt_outcome(facts) == outcome and outcome in ATTEMPT_OUTCOMES
