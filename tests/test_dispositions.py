"""A contact's final disposition from its attempts: the AAPOR ranking on worked examples."""

from __future__ import annotations

import pytest

from survey_bot.campaigns.dispositions import disposition_of


@pytest.mark.parametrize(("outcomes", "expected"), [
    ([], ("not_attempted", "3.11")),
    (["no_answer", "busy", "complete"], ("complete", "1.1")),
    (["break_off", "partial"], ("partial", "1.2")),
    (["partial", "complete"], ("complete", "1.1")),
    (["no_answer", "break_off", "no_answer"], ("break_off", "2.12")),
    (["opt_out"], ("refusal", "2.11")),
    (["refusal", "busy"], ("refusal", "2.11")),
    (["machine", "no_answer", "machine"], ("machine", "3.14")),
    (["human", "machine"], ("machine", "2.22")),
    (["machine", "busy"], ("busy", "3.12")),
    (["no_answer", "no_answer", "no_answer"], ("no_answer", "3.13")),
    (["technical"], ("technical", "3.16")),
    (["invalid_number"], ("invalid_number", "4.31")),
    (["fax"], ("fax", "4.20")),
    (["no_answer", "quota_full"], ("quota_full", "4.80")),
    (["machine_voicemail"], ("machine", "3.14")),
    ([None], ("break_off", "2.12")),
])
def test_the_highest_ranked_attempt_decides(outcomes: list[str | None], expected: tuple[str, str]) -> None:
    assert disposition_of(outcomes) == expected
