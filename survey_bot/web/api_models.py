"""The admin API's own shapes (requests, errors, an accepted call): quart-schema validates with them and
documents them. What the API reads back is the read model's (reports.views), shared with the dashboard."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from survey_bot.intake.outbound import E164
from survey_bot.reports.webhook_views import EventName
from survey_bot.storage.webhook_outbox import DEFAULT_EVENTS
from survey_bot.utc import typed_utc

__all__ = [
    "AuditQuery",
    "CallAccepted",
    "CallRequest",
    "CsvExportQuery",
    "DeliveriesQuery",
    "EndpointRequest",
    "Error",
    "ExportQuery",
    "FhirExportQuery",
    "FieldProblem",
    "ResponsesQuery",
    "RotateQuery",
    "SelectionQuery",
    "Status",
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
    locale: Annotated[str | None, Field(None, min_length=2, max_length=35,
                                        description="the locale the call speaks, one of the form's x-locales, e.g. "
                                                    "es-US (default: the language menu if the form has one, else "
                                                    "its first locale)")]


class SelectionQuery(_Closed):
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

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        # Taken to UTC here, so a zoned time past the calendar's ends is a 400 naming it, not a 500 in the query.
        return None if value is None else typed_utc(value)


class ExportQuery(SelectionQuery):
    """Which responses, and how choices are written."""

    labels: bool = Field(False, description="choice fields (enum, oneOf const) as their labels in the form version "
                                            "each response used (x-labels, oneOf titles, else the value humanised); "
                                            "default: values")
    include_sensitive: bool = Field(False, description="include the answers of x-sensitive fields (default: left "
                                                       "out: an empty CSV cell, no NDJSON key); each such export "
                                                       "is recorded in the audit log (export_sensitive)")


class FhirExportQuery(SelectionQuery):
    """Which responses, for a FHIR export (a choice is written with its code and its display: no labels option)."""

    include_sensitive: bool = Field(False, description="include the answers of x-sensitive fields (default: left "
                                                       "out: no item); each such export is recorded in the audit "
                                                       "log (export_sensitive)")


class CsvExportQuery(ExportQuery):
    """CSV options on top of the selection."""

    with_sources: bool = Field(False, description="add a <field>.source column per field")
    excel: bool = Field(False, description="UTF-8 BOM and CRLF line ends")
    raw: bool = Field(False, description="do not neutralise formula-like cells (unsafe in spreadsheets)")


class ResponsesQuery(SelectionQuery):
    """A page of responses, oldest first."""

    limit: int = Field(50, ge=1, le=500)
    cursor: str = Field("", max_length=400, description="next_cursor of the previous page; empty for the first")


class EndpointRequest(_Closed):
    """An outbound webhook receiver to add; its events default to the three final response events."""

    url: str = Field(min_length=1, max_length=2000, description="https:// URL of the receiver")
    events: list[EventName] = Field(default_factory=lambda: list(DEFAULT_EVENTS), min_length=1)  # type: ignore[arg-type]
    include_sensitive: bool = Field(False, strict=True,
                                    description="include x-sensitive answers (recorded in the audit log)")


class DeliveriesQuery(_Closed):
    """How many of an endpoint's newest deliveries."""

    limit: int = Field(100, ge=1, le=1000)


class RotateQuery(_Closed):
    """How long the old secret still signs next to the new one: `0`, or a duration like `90s`, `30m`, `24h`."""

    overlap: str = Field("24h", pattern=r"^(0|[1-9][0-9]{0,6}[smh])$",
                         description="0, or a number of seconds (s), minutes (m) or hours (h): at most 30 days")


class AuditQuery(_Closed):
    """A page of audit lines, newest first."""

    limit: int = Field(50, ge=1, le=500)
    cursor: str = Field("", max_length=400, description="next_cursor of the previous page; empty for the first")


# ---- responses --------------------------------------------------------------------------------------


class CallAccepted(BaseModel):
    """The outbound call is queued; its response id tracks it."""

    response_id: str
    status: str
    to: str
    form: str


