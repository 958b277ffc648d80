"""One small error tree, so every layer can raise data and one handler can turn it into a response.

    SurveyBotError
     +-- ConfigError        settings missing or contradictory (the server refuses to start)
     +-- FormError          a form file is broken; carries every FormProblem found
     +-- DigitsError        keypad digits that do not fit the field they answer
     +-- SignatureError     a webhook whose Ed25519 signature is missing, forged or stale
     +-- PayloadError       a webhook body that is not UTF-8 JSON in Telnyx's envelope
     +-- DatabaseNotReady   the database schema is not at the migrations' head
     +-- ScenarioError      a scenario file (`survey-bot simulate`) is broken; carries every FormProblem found
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DatabaseNotReady",
    "DigitsError",
    "FormError",
    "FormProblem",
    "PayloadError",
    "ScenarioError",
    "SignatureError",
    "SurveyBotError",
]


class SurveyBotError(Exception):
    """Base of every error survey-bot raises on purpose."""


class ConfigError(SurveyBotError):
    """Settings are missing or contradictory."""


@dataclass(frozen=True)
class FormProblem:
    """One problem in a form file (or a scenario file), located by a JSON pointer."""

    file: str
    pointer: str
    message: str
    severity: str = "error"  # or "warning": worth knowing, but the form works (`forms check --strict` fails)

    def __str__(self) -> str:
        warning = "warning: " if self.severity == "warning" else ""
        return f"{self.file}: {self.pointer or '/'}: {warning}{self.message}"


class FormError(SurveyBotError):
    """A form (or several) failed its check; `problems` holds every one found."""

    def __init__(self, problems: list[FormProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DigitsError(SurveyBotError):
    """Keypad digits that cannot be turned into a valid value for their field."""

    def __init__(self, field: str, digits: str, reason: str,
                 said: tuple[str, dict[str, object]] = ("reason.does_not_fit", {})) -> None:
        self.field = field
        self.digits = digits
        self.reason = reason  # kept with the attempt, for people reading the response
        self.said = said  # the phrase message id and values saying it to the caller, in the call's locale
        super().__init__(f"{field}: digits {digits!r}: {reason}")


class SignatureError(SurveyBotError):
    """A webhook's signature is missing, malformed, forged or outside the time tolerance."""


class PayloadError(SurveyBotError):
    """A webhook body that is not UTF-8 JSON in Telnyx's event envelope."""


class DatabaseNotReady(SurveyBotError):
    """The database is not at the migrations' head."""


class ScenarioError(SurveyBotError):
    """A scenario file failed its check; `problems` holds every one found, each with its JSON pointer."""

    def __init__(self, problems: list[FormProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
