"""Count a form's funnel and outcomes from plain response records: pure arithmetic, no SQL, no I/O.

Terms, per response and per field (fields in form order; a field is a form's leaf, named with dots):

- A *final answer* is one the caller confirmed: source `ai` (the voice AI's validated result) or `dtmf`
  (the keypad). Source `ai_partial` is provisional and never counts as answered.
- A *keypad rescue* is a final answer from the keypad: the AI did not get that field right, the keypad did.
- A field is *relevant* to a response when the form's skip logic (forms.conditions) says it should be asked,
  given the response's final answers; it is *required* of it when relevant and required statically or by a
  branch that applies. A field never relevant to a response is *not applicable* to it: not reached, not
  unanswered, not a breakoff. A *declined* field is one the caller chose not to answer (source `declined`).
- *Ended* responses are every status but `in_progress`; the funnel and the outcomes count ended
  responses only, so a call appears once it is over and its numbers no longer move.
- *Connected* responses had someone on the line: every ended status but `failed` (an outbound call
  nobody answered).
- The *breakoff question* of an `abandoned` response (the caller hung up before the end) is:
  1. `current_field`, the field being asked on the keypad at hang-up, when set; else
  2. the first required field in form order with no answer of any kind (an `ai_partial` answer counts
     here: it shows the AI got past that question before the caller left); else
  3. the first relevant field in form order without a final answer (or a refusal); else
  4. none (the caller left after every question, e.g. during the closing words).
  Responses with any other status have no breakoff question.
- A field is *reached* by a response when it is relevant to it and:
  - the response is `completed` or `partial`: always (the whole form was put to the caller);
  - the response is `abandoned`: it has an answer from any source, or was attempted on the keypad, or
    comes before the breakoff question in form order, or is the breakoff question itself;
  - the response is `failed` (never connected): never.
  Reached = answered by AI + answered on the keypad + declined + unanswered, for every field.

Outcomes, in survey terms: `completed`; `partial` (finished, a required answer missing); `breakoff`
(status `abandoned`: hung up after the conversation started); `refused` (status `failed` with a hang-up
cause of no answer, busy or rejected: the person did not take the call); `failed` (any other `failed`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from survey_bot.forms.conditions import Relevance
from survey_bot.vocabulary import DECLINED, FINAL_SOURCES, OUTCOMES, REFUSAL_CAUSES

__all__ = [
    "FINAL_SOURCES",
    "OUTCOMES",
    "FieldLike",
    "FieldStats",
    "Funnel",
    "OutcomeCounts",
    "RelevanceRule",
    "ResponseRecord",
    "Timing",
    "breakoff_question",
    "completion_rate",
    "funnel",
    "median_seconds",
    "outcome_of",
    "outcomes",
    "reached_fields",
    "source_share",
    "timing",
]



class FieldLike(Protocol):
    """What metrics needs of a form field (survey_bot.forms.Field fits)."""

    @property
    def name(self) -> str: ...

    @property
    def required(self) -> bool: ...


# A form's skip logic: (final answers, sources) -> the relevant and the required fields (Form.relevance fits).
RelevanceRule = Callable[[Mapping[str, Any], Mapping[str, Any]], Relevance]


def relevance_of(record: ResponseRecord, fields: Sequence[FieldLike], rule: RelevanceRule | None) -> Relevance:
    """The record's relevant and required fields (without skip logic: every field, the statically required)."""
    if rule is not None:
        return rule(record.answers, record.sources)
    return Relevance(frozenset(f.name for f in fields), frozenset(f.name for f in fields if f.required))


@dataclass(frozen=True)
class ResponseRecord:
    """The parts of a stored response that metrics reads."""

    id: str
    status: str
    direction: str = "incoming"
    answers: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    keypad_attempts: Sequence[Any] = ()  # as stored: objects naming a "field", normally
    current_field: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    completed_at: datetime | None = None
    hangup_cause: str | None = None

    @classmethod
    def of(cls, row: Any) -> ResponseRecord:
        """Copy the fields metrics needs from any object that has them (a models.Response row)."""
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})

    @property
    def ended(self) -> bool:
        """Tell whether the call is over (any status but in_progress)."""
        return self.status != "in_progress"

    def final(self, name: str) -> bool:
        """Tell whether `name` has a final answer (AI or keypad)."""
        return self.sources.get(name) in FINAL_SOURCES

    def keypad_tried(self, name: str) -> bool:
        """Tell whether `name` was asked on the keypad at least once.

        Entries are read as stored: one that is not an object (a hand-edited or foreign row) names no field, and
        counting the others keeps the form's page up rather than a 500 for every range that holds such a row.
        """
        return any(isinstance(attempt, Mapping) and attempt.get("field") == name
                   for attempt in self.keypad_attempts or ())


def breakoff_question(record: ResponseRecord, fields: Sequence[FieldLike],
                      rule: RelevanceRule | None = None) -> str | None:
    """Return the field an abandoned caller left at (see the module docstring), else None."""
    if record.status != "abandoned":
        return None
    if record.current_field:
        return record.current_field
    relevance = relevance_of(record, fields, rule)
    for candidate in fields:
        if candidate.name in relevance.required and candidate.name not in record.sources:
            return candidate.name
    for candidate in fields:
        if candidate.name in relevance.relevant and not record.final(candidate.name) \
                and record.sources.get(candidate.name) != DECLINED:
            return candidate.name
    return None


def reached_fields(record: ResponseRecord, fields: Sequence[FieldLike], rule: RelevanceRule | None = None) -> set[str]:
    """Return the names of the fields `record` reached (see the module docstring)."""
    relevant = relevance_of(record, fields, rule).relevant
    names = [f.name for f in fields if f.name in relevant]
    if record.status in ("completed", "partial"):
        return set(names)
    if record.status != "abandoned":
        return set()
    reached = {n for n in names if n in record.sources or record.keypad_tried(n)}
    stop = breakoff_question(record, fields, rule)
    cut = names.index(stop) + 1 if stop in names else (len(names) if stop is None else 0)
    return reached | set(names[:cut])


@dataclass(frozen=True)
class FieldStats:
    """One funnel row: how the ended, connected calls fared on one field."""

    name: str
    reached: int = 0
    by_ai: int = 0
    by_keypad: int = 0
    keypad_tried: int = 0
    breakoffs: int = 0
    declined: int = 0
    not_applicable: int = 0  # connected calls the field was never relevant to

    @property
    def unanswered(self) -> int:
        """Calls that reached the field and left without a final answer (or a refusal)."""
        return self.reached - self.by_ai - self.by_keypad - self.declined


@dataclass(frozen=True)
class Funnel:
    """A per-question funnel over the ended calls of one form."""

    calls: int
    connected: int
    rows: tuple[FieldStats, ...]
    breakoff_unknown: int = 0  # abandoned calls whose breakoff question is none or not in this form


def funnel(records: Iterable[ResponseRecord], fields: Sequence[FieldLike],
           rule: RelevanceRule | None = None) -> Funnel:
    """Count, for each field in form order, calls reaching it, answering it by AI or keypad, declining it,
    leaving at it, and the connected calls it did not apply to (`rule`: the form's skip logic)."""
    counts = {f.name: dict.fromkeys(("reached", "by_ai", "by_keypad", "keypad_tried", "breakoffs", "declined",
                                     "not_applicable"), 0) for f in fields}
    calls = connected = unknown = 0
    for record in records:
        if not record.ended:
            continue
        calls += 1
        connected += record.status != "failed"
        if record.status != "failed":
            relevant = relevance_of(record, fields, rule).relevant
            for name in counts.keys() - relevant:
                counts[name]["not_applicable"] += 1
        for name in reached_fields(record, fields, rule):
            row = counts[name]
            row["reached"] += 1
            source = record.sources.get(name)
            row["by_ai"] += source == "ai"
            row["by_keypad"] += source == "dtmf"
            row["declined"] += source == DECLINED
            row["keypad_tried"] += record.keypad_tried(name)
        stop = breakoff_question(record, fields, rule)
        if stop in counts:
            counts[stop]["breakoffs"] += 1
        elif record.status == "abandoned":
            unknown += 1
    rows = tuple(FieldStats(f.name, **counts[f.name]) for f in fields)
    return Funnel(calls, connected, rows, unknown)


def outcome_of(record: ResponseRecord) -> str | None:
    """Return the survey outcome of an ended response (None while in progress)."""
    if record.status == "completed":
        return "completed"
    if record.status == "partial":
        return "partial"
    if record.status == "abandoned":
        return "breakoff"
    if record.status == "failed":
        return "refused" if record.hangup_cause in REFUSAL_CAUSES else "failed"
    return None


@dataclass(frozen=True)
class OutcomeCounts:
    """How many ended calls had each outcome, and how many are still in progress."""

    counts: Mapping[str, int]
    in_progress: int = 0

    @property
    def total(self) -> int:
        """Ended calls."""
        return sum(self.counts.values())

    def rate(self, outcome: str) -> float | None:
        """Share of ended calls with `outcome` (None when no call has ended)."""
        return self.counts.get(outcome, 0) / self.total if self.total else None


def outcomes(records: Iterable[ResponseRecord]) -> OutcomeCounts:
    """Count outcomes of the ended calls (in OUTCOMES order) and the calls still in progress."""
    counts = dict.fromkeys(OUTCOMES, 0)
    live = 0
    for record in records:
        outcome = outcome_of(record)
        if outcome is None:
            live += 1
        else:
            counts[outcome] += 1
    return OutcomeCounts(counts, live)


def completion_rate(completed: int, ended: int) -> float | None:
    """Completed calls over ended calls (None when none ended)."""
    return completed / ended if ended else None


def source_share(records: Iterable[ResponseRecord]) -> tuple[int, int]:
    """Return (AI answers, keypad answers): the final answers of the records, by source."""
    ai = keypad = 0
    for record in records:
        for source in record.sources.values():
            ai += source == "ai"
            keypad += source == "dtmf"
    return ai, keypad


def median_seconds(pairs: Iterable[tuple[datetime | None, datetime | None]]) -> float | None:
    """Median of (end - start) in seconds over the pairs with both ends known (None when none)."""
    spans = [(end - start).total_seconds() for start, end in pairs if start is not None and end is not None]
    return statistics.median(spans) if spans else None


@dataclass(frozen=True)
class Timing:
    """Median call duration (ended - started) and median time to complete (completed - started)."""

    median_duration_s: float | None
    median_to_complete_s: float | None


def timing(records: Sequence[ResponseRecord]) -> Timing:
    """Compute the medians over ended calls, and over completed ones."""
    return Timing(
        median_seconds((r.started_at, r.ended_at) for r in records if r.ended),
        median_seconds((r.started_at, r.completed_at) for r in records if r.status == "completed"),
    )
