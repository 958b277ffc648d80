"""Funnel and outcome arithmetic on hand-built responses: breakoff at each question, keypad rescues, outcomes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from survey_bot.reports import metrics
from survey_bot.reports.metrics import ResponseRecord, breakoff_question, funnel, outcomes, reached_fields


@dataclass(frozen=True)
class F:
    name: str
    required: bool = True


# name (required), rating (required), comment (optional, AI only), callback (required), newsletter (optional)
FIELDS = (F("name"), F("rating"), F("comment", required=False), F("callback"), F("newsletter", required=False))
NAMES = [f.name for f in FIELDS]
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def rec(status: str, sources: dict[str, str] | None = None, **kw: object) -> ResponseRecord:
    sources = sources or {}
    return ResponseRecord(id=kw.pop("id", "r"), status=status, sources=sources,  # type: ignore[arg-type]
                          answers=dict.fromkeys(sources, "x"), **kw)  # type: ignore[arg-type]


def all_ai(*names: str) -> dict[str, str]:
    return dict.fromkeys(names or NAMES, "ai")


def row(f: metrics.Funnel, name: str) -> metrics.FieldStats:
    return next(r for r in f.rows if r.name == name)


def test_completed_by_ai_reaches_and_answers_every_field() -> None:
    result = funnel([rec("completed", all_ai())], FIELDS)
    assert (result.calls, result.connected) == (1, 1)
    for r in result.rows:
        assert (r.reached, r.by_ai, r.by_keypad, r.unanswered, r.breakoffs) == (1, 1, 0, 0, 0)


def test_keypad_rescue_counts_as_keypad_answer_and_keypad_try() -> None:
    sources = all_ai() | {"rating": "dtmf"}
    attempts = [{"field": "rating", "n": 1, "status": "invalid", "digits": "99"},
                {"field": "rating", "n": 2, "status": "valid", "digits": "7#"}]
    result = funnel([rec("completed", sources, keypad_attempts=attempts)], FIELDS)
    rating = row(result, "rating")
    assert (rating.reached, rating.by_ai, rating.by_keypad, rating.keypad_tried, rating.unanswered) == (1, 0, 1, 1, 0)
    assert row(result, "name").keypad_tried == 0


def test_keypad_attempt_that_failed_leaves_field_unanswered_in_partial() -> None:
    sources = all_ai("name", "comment", "callback")
    attempts = [{"field": "rating", "n": n, "status": "timeout", "digits": ""} for n in (1, 2, 3)]
    record = rec("partial", sources, keypad_attempts=attempts)
    result = funnel([record], FIELDS)
    rating = row(result, "rating")
    assert (rating.reached, rating.by_keypad, rating.keypad_tried, rating.unanswered) == (1, 0, 1, 1)
    assert row(result, "newsletter").unanswered == 1  # finished calls reach every question
    assert breakoff_question(record, FIELDS) is None  # only abandoned calls break off


@pytest.mark.parametrize("index", [0, 1, 3])  # each required question
def test_breakoff_during_the_ai_conversation_at_each_required_question(index: int) -> None:
    """Hung up while the AI asked question `index`: the partial results show it got past the ones before."""
    before = {n: "ai_partial" for n in NAMES[:index]}
    record = rec("abandoned", before)
    stop = NAMES[index]
    assert breakoff_question(record, FIELDS) == stop
    assert reached_fields(record, FIELDS) == set(NAMES[: index + 1])
    result = funnel([record], FIELDS)
    assert [r.breakoffs for r in result.rows] == [int(n == stop) for n in NAMES]
    assert [r.reached for r in result.rows] == [int(i <= index) for i in range(len(NAMES))]
    assert all(r.by_ai == 0 for r in result.rows)  # partial answers are not answers
    assert row(result, stop).unanswered == 1


@pytest.mark.parametrize("stop", ["name", "rating", "callback", "newsletter"])
def test_breakoff_on_the_keypad_at_each_question(stop: str) -> None:
    """Hung up while a field was asked on the keypad: that field is the breakoff question."""
    index = NAMES.index(stop)
    sources = {n: "ai" for n in NAMES if n != stop and NAMES.index(n) < index}
    attempts = [{"field": stop, "n": 1, "status": "call_hangup", "digits": ""}]
    record = rec("abandoned", sources, current_field=stop, keypad_attempts=attempts)
    assert breakoff_question(record, FIELDS) == stop
    result = funnel([record], FIELDS)
    assert row(result, stop).breakoffs == 1
    assert row(result, stop).keypad_tried == 1
    assert sum(r.breakoffs for r in result.rows) == 1
    assert {r.name for r in result.rows if r.reached} == set(NAMES[: index + 1])


def test_keypad_breakoff_after_ai_answers_later_fields() -> None:
    """AI got `callback` but not `rating`; the caller hung up on the rating keypad question."""
    sources = all_ai("name", "comment", "callback")
    record = rec("abandoned", sources, current_field="rating")
    assert reached_fields(record, FIELDS) == {"name", "rating", "comment", "callback"}
    result = funnel([record], FIELDS)
    assert row(result, "callback").by_ai == 1
    assert row(result, "rating").unanswered == 1
    assert row(result, "newsletter").reached == 0


def test_breakoff_at_optional_question_when_every_required_one_is_answered() -> None:
    record = rec("abandoned", all_ai("name", "rating", "callback"))
    assert breakoff_question(record, FIELDS) == "comment"


def test_breakoff_during_closing_words_has_no_question() -> None:
    record = rec("abandoned", all_ai())
    assert breakoff_question(record, FIELDS) is None
    result = funnel([record], FIELDS)
    assert result.breakoff_unknown == 1
    assert all(r.reached == 1 and r.breakoffs == 0 for r in result.rows)


def test_unanswered_outbound_and_live_calls_reach_nothing() -> None:
    records = [rec("failed", direction="outgoing", hangup_cause="no_answer"),
               rec("in_progress", all_ai("name"))]
    result = funnel(records, FIELDS)
    assert (result.calls, result.connected) == (1, 0)
    assert all(r.reached == 0 for r in result.rows)


def test_outcomes_in_survey_terms() -> None:
    records = [
        rec("completed", all_ai()), rec("completed", all_ai()), rec("partial"), rec("abandoned"),
        rec("failed", direction="outgoing", hangup_cause="no_answer"),
        rec("failed", direction="outgoing", hangup_cause="user_busy"),
        rec("failed", direction="outgoing", hangup_cause="unallocated_number"),
        rec("in_progress"),
    ]
    counts = outcomes(records)
    assert dict(counts.counts) == {"completed": 2, "partial": 1, "breakoff": 1, "refused": 2, "failed": 1}
    assert counts.in_progress == 1
    assert counts.total == 7
    assert counts.rate("completed") == pytest.approx(2 / 7)
    assert counts.rate("refused") == pytest.approx(2 / 7)
    assert outcomes([]).rate("completed") is None
    assert list(counts.counts) == list(metrics.OUTCOMES)


def test_completion_rate_and_source_share() -> None:
    assert metrics.completion_rate(3, 4) == 0.75
    assert metrics.completion_rate(0, 0) is None
    records = [rec("completed", all_ai() | {"rating": "dtmf"}), rec("abandoned", {"name": "ai_partial"})]
    assert metrics.source_share(records) == (4, 1)


def test_medians_of_duration_and_time_to_complete() -> None:
    def timed(status: str, minutes: float, completed: float | None = None) -> ResponseRecord:
        done = T0 + timedelta(minutes=completed) if completed is not None else None
        return rec(status, started_at=T0, ended_at=T0 + timedelta(minutes=minutes), completed_at=done)

    records = [timed("completed", 2, 1.5), timed("completed", 4, 3.5), timed("abandoned", 1),
               rec("in_progress", started_at=T0)]
    result = metrics.timing(records)
    assert result.median_duration_s == 120.0  # median of 2, 4 and 1 minutes
    assert result.median_to_complete_s == 150.0  # median of 1.5 and 3.5 minutes
    assert metrics.timing([]) == metrics.Timing(None, None)


def test_record_of_copies_matching_attributes() -> None:
    class Row:
        id, status, direction, answers, sources, keypad_attempts = "r1", "completed", "incoming", {}, {}, []
        current_field = started_at = answered_at = ended_at = completed_at = hangup_cause = None

    assert ResponseRecord.of(Row()) == ResponseRecord("r1", "completed", keypad_attempts=[])


SOURCES = st.sampled_from(["ai", "dtmf", "ai_partial"])
RECORDS = st.builds(
    lambda status, sources, current, tried: rec(
        status, sources, current_field=current if status in ("abandoned", "in_progress") else None,
        keypad_attempts=[{"field": n, "n": 1, "status": "timeout", "digits": ""} for n in tried]),
    st.sampled_from(["in_progress", "completed", "partial", "abandoned", "failed"]),
    st.dictionaries(st.sampled_from(NAMES), SOURCES),
    st.none() | st.sampled_from(NAMES),
    st.lists(st.sampled_from(NAMES), max_size=3),
)


@given(st.lists(RECORDS, max_size=12))
def test_funnel_invariants(records: list[ResponseRecord]) -> None:
    result = funnel(records, FIELDS)
    abandoned = sum(r.status == "abandoned" for r in records)
    assert sum(r.breakoffs for r in result.rows) + result.breakoff_unknown == abandoned
    for r in result.rows:
        assert 0 <= r.unanswered <= r.reached <= result.connected <= result.calls
        assert r.breakoffs <= r.reached
    assert outcomes(records).total == result.calls
