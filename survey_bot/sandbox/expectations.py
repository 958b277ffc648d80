"""A scenario call's expectations against what it left: which keys differ, what was expected, what came."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from survey_bot.sandbox.scenario_file import Expectation
from survey_bot.vocabulary import DECLINED

__all__ = ["NO_ANSWER", "Mismatch", "compare"]

NO_ANSWER = "(no answer)"


class Observed(Protocol):
    """What a played call left (sandbox.simulate.CallOutcome fits)."""

    status: str | None
    answers: dict[str, Any]
    sources: dict[str, str]
    asked_on_keypad: list[str]
    locale: str | None
    outcome: str | None
    suppressed: bool


@dataclass(frozen=True)
class Mismatch:
    """One expectation not met: `key` names it (`status`, `answers.nps`, `asked_on_keypad`)."""

    key: str
    expected: Any
    got: Any

    def as_json(self) -> dict[str, Any]:
        """As `survey-bot simulate --json` prints it."""
        return {"key": self.key, "expected": self.expected, "got": self.got}


def compare(expect: Expectation, observed: Observed) -> list[Mismatch]:
    """Every expectation `observed` does not meet, in the file's order of keys."""
    found = []
    said: tuple[tuple[str, object, object], ...] = (("status", expect.status, observed.status),
                                                   ("outcome", expect.outcome, observed.outcome),
                                                   ("suppressed", expect.suppressed, observed.suppressed))
    for key, wanted, seen in said:
        if wanted is not None and wanted != seen:
            found.append(Mismatch(key, wanted, seen))
    for key, wanted, got in (("answers", expect.answers, observed.answers),
                             ("sources", expect.sources, observed.sources)):
        for name, value in (wanted or {}).items():
            actual = got.get(name, NO_ANSWER)
            if actual != value or type(actual) is not type(value):  # 1 is not true, 9.0 is not 9
                found.append(Mismatch(f"{key}.{name}", value, actual))
    if expect.asked_on_keypad is not None and list(expect.asked_on_keypad) != observed.asked_on_keypad:
        found.append(Mismatch("asked_on_keypad", list(expect.asked_on_keypad), observed.asked_on_keypad))
    if expect.locale is not None and expect.locale != observed.locale:
        found.append(Mismatch("locale", expect.locale, observed.locale))
    declined = sorted(name for name, source in observed.sources.items() if source == DECLINED)
    if expect.declined is not None and sorted(expect.declined) != declined:
        found.append(Mismatch("declined", sorted(expect.declined), declined))
    return found
