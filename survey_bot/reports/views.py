"""The read model's shapes: the same values feed the admin API (as JSON, documented in its OpenAPI document) and
the dashboard's templates, so both always show the same thing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from survey_bot.reports.metrics import completion_rate

__all__ = [
    "AnswerEntry",
    "AnswerState",
    "CommandEntry",
    "EventEntry",
    "FormList",
    "FormSummary",
    "ResponseDetail",
    "ResponsePage",
    "ResponseSummary",
    "StatusCounts",
    "VersionSummary",
]


class StatusCounts(BaseModel):
    """Responses by status."""

    in_progress: int = 0
    completed: int = 0
    partial: int = 0
    abandoned: int = 0
    failed: int = 0
    total: int = 0

    @property
    def ended(self) -> int:
        """Responses whose call is over."""
        return self.total - self.in_progress

    @property
    def completion_rate(self) -> float | None:
        """Completed over ended responses (None when none has ended)."""
        return completion_rate(self.completed, self.ended)


class VersionSummary(BaseModel):
    """One stored version of a form and how many responses were collected with it."""

    version: str
    created_at: datetime
    responses: int
    fields: list[str]
    current: bool = Field(description="the version in today's forms folder")


class FormSummary(BaseModel):
    """A form: today's file (if any), every stored version, and its responses by status."""

    form_id: str
    title: str
    loaded: bool = Field(description="the forms folder has it today (else: only stored versions are left)")
    numbers: list[str] = Field(description="the numbers whose inbound calls get this form (x-numbers)")
    current_version: str | None
    versions: list[VersionSummary]
    responses: StatusCounts
    today: int = Field(description="responses started since 00:00 UTC today")


class FormList(BaseModel):
    """Every form known: in the forms folder or with stored versions."""

    forms: list[FormSummary]


class ResponseSummary(BaseModel):
    """One response with its answers and their sources, flat by dotted field name."""

    id: str
    form_id: str
    form_version: str | None
    status: str
    direction: str
    from_number: str | None
    to_number: str | None
    locale: str = Field(description="the BCP-47 locale the call spoke (empty while a language menu is open)")
    started_at: datetime
    completed_at: datetime | None
    answers: dict[str, Any]
    sources: dict[str, str]


class ResponsePage(BaseModel):
    """A page of responses in (started_at, id) order; pass next_cursor for the next (null: none yet)."""

    items: list[ResponseSummary]
    next_cursor: str | None


AnswerState = Literal["answered", "partial", "declined", "not_applicable", "unanswered"]


class AnswerEntry(BaseModel):
    """One field of the form as a response holds it, in form order (fields no longer in the form last)."""

    name: str
    title: str
    value: Any = None
    answered: bool = Field(description="a value is stored (shown empty in exports when not applicable)")
    state: AnswerState = Field(
        description="answered: a final answer (AI or keypad); partial: only a partial AI result; declined: the "
                    "caller chose not to answer; not_applicable: the form's skip logic does not ask it of this "
                    "response (a stored value is kept but not exported); unanswered: none of these")
    relevant: bool = Field(description="the form's skip logic asks this field of this response")
    required: bool = Field(description="required of this response (statically, or by a condition that holds)")
    source: str | None
    at: str | None = Field(description="when it was heard (the event's time, ISO 8601)")
    attempt: str | None = Field(None, description="which gather heard it: ai (the first AI gather), reask N (a "
                                                  "targeted AI re-ask), keypad N (keypad try N)")
    turn: int | None = Field(None, description="for AI answers, the index of the last transcript turn then")


class EventEntry(BaseModel):
    """A webhook event received for the call."""

    kind: Literal["event"] = "event"
    at: datetime
    id: str
    type: str
    occurred_at: datetime | None
    received_at: datetime
    state: str
    note: str | None


class CommandEntry(BaseModel):
    """A call-control command issued for the call."""

    kind: Literal["command"] = "command"
    at: datetime
    command_id: str
    action: str
    step: str
    status: str
    attempts: int
    outcome: str | None
    created_at: datetime
    sent_at: datetime | None


class ResponseDetail(ResponseSummary):
    """Everything about one response, with the timeline of its call (events and commands in processing order)."""

    form_title: str
    fields: list[AnswerEntry]
    answered_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    ai_status: str | None
    hangup_cause: str | None
    hangup_source: str | None
    keypad_attempts: list[Any]
    transcript: list[Any] = Field(description="the voice AI's messages as Telnyx sent them (objects with role "
                                              "and content, normally)")
    failures: list[Any]
    timeline: list[Annotated[EventEntry | CommandEntry, Field(discriminator="kind")]]
