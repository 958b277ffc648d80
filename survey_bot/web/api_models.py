"""The admin API's request and response shapes: quart-schema validates with them and documents them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from survey_bot.intake.outbound import E164

__all__ = [
    "CallAccepted",
    "CallRequest",
    "CommandEntry",
    "CsvExportQuery",
    "Error",
    "EventEntry",
    "ExportQuery",
    "FieldProblem",
    "FormList",
    "FormSummary",
    "ResponseDetail",
    "ResponsePage",
    "ResponseSummary",
    "ResponsesQuery",
    "Status",
    "StatusCounts",
    "VersionSummary",
]

Status = Literal["in_progress", "completed", "partial", "abandoned", "failed"]
_NUMBER = re.compile(r"[-+]?[0-9._]*(?:[eE][-+]?[0-9]+)?")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str
    message: str


class Error(BaseModel):
    """What went wrong: a stable code, a human explanation and, for invalid requests, each bad field."""

    error: str
    detail: str | None = None
    fields: list[FieldProblem] | None = None


# ---- requests ---------------------------------------------------------------------------------------


class CallRequest(_Closed):
    """An outbound survey call to place."""

    to: Annotated[str, Field(pattern=E164.pattern, description="E.164 number to call, e.g. +15551234567")]
    form: Annotated[str, Field(min_length=1, max_length=100, description="id of the form to ask")]


class ExportQuery(_Closed):
    """Which responses: any of `status` (repeatable; all when absent), started in [since, until)."""

    status: list[Status] = Field(default_factory=list)
    since: datetime | None = Field(None, description="started at or after (RFC 3339; UTC unless zoned)")
    until: datetime | None = Field(None, description="started before (RFC 3339; UTC unless zoned)")

    @field_validator("status", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # A single ?status=x arrives as a string, several as a list.
        return [value] if isinstance(value, str) else value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _timestamp_text(cls, value: Any) -> Any:
        # pydantic would also take a number of seconds since 1970; the document promises a date-time.
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            raise ValueError("expected an RFC 3339 date-time such as 2025-03-01T09:00:00Z")
        return value


class CsvExportQuery(ExportQuery):
    """CSV options on top of the selection."""

    with_sources: bool = Field(False, description="add a <field>.source column per field")
    excel: bool = Field(False, description="UTF-8 BOM and CRLF line ends")
    raw: bool = Field(False, description="do not neutralise formula-like cells (unsafe in spreadsheets)")


class ResponsesQuery(ExportQuery):
    """A page of responses, oldest first."""

    limit: int = Field(50, ge=1, le=500)
    cursor: str = Field("", max_length=400, description="next_cursor of the previous page; empty for the first")


# ---- responses --------------------------------------------------------------------------------------


class CallAccepted(BaseModel):
    """The outbound call is queued; its response id tracks it."""

    response_id: str
    status: str
    to: str
    form: str


class StatusCounts(BaseModel):
    """Responses by status."""

    in_progress: int = 0
    completed: int = 0
    partial: int = 0
    abandoned: int = 0
    failed: int = 0
    total: int = 0


class VersionSummary(BaseModel):
    """One stored version of a form and how many responses were collected with it."""

    version: str
    created_at: datetime
    responses: int
    fields: list[str]


class FormSummary(BaseModel):
    """A form: today's file (if any), every stored version, and its responses by status."""

    form_id: str
    title: str
    current_version: str | None
    versions: list[VersionSummary]
    responses: StatusCounts


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
    started_at: datetime
    completed_at: datetime | None
    answers: dict[str, Any]
    sources: dict[str, str]


class ResponsePage(BaseModel):
    """A page of responses in (started_at, id) order; pass next_cursor for the next (null: none yet)."""

    items: list[ResponseSummary]
    next_cursor: str | None


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
    status: str
    attempts: int
    outcome: str | None
    created_at: datetime
    sent_at: datetime | None


class ResponseDetail(ResponseSummary):
    """Everything about one response, with the timeline of its call (events and commands by time)."""

    answered_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    hangup_cause: str | None
    hangup_source: str | None
    keypad_attempts: list[dict[str, Any]]
    transcript: list[dict[str, Any]]
    failures: list[Any]
    timeline: list[Annotated[EventEntry | CommandEntry, Field(discriminator="kind")]]
