"""What a campaign looks like to people (status, report, contacts): pydantic models the API serialises, the CLI
prints and the dashboard renders, so the three never disagree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["CampaignList", "CampaignReport", "CampaignRules", "CampaignStatus", "ContactCounts", "ContactLine",
           "ContactPage", "DispositionCount", "ImportReport", "RowProblem", "SuppressionLine", "SuppressionPage"]


class CampaignRules(BaseModel):
    """The calling rules the campaign was created with."""

    window: str  # HH:MM-HH:MM in the contact's local time
    days: str  # mon,tue,...
    max_attempts: int
    retry_after: str  # 90s, 30m, 4h
    concurrency: int
    rate: float
    amd: bool
    voicemail: str | None
    quota: int | None
    locale: str | None
    default_region: str | None


class ContactCounts(BaseModel):
    """Contacts by state."""

    pending: int = 0
    dialing: int = 0
    done: int = 0
    total: int = 0


class CampaignStatus(BaseModel):
    """Where a campaign stands: its state, contacts by state, attempts, calls in progress, next call, quota."""

    campaign_id: str
    name: str
    form_id: str
    status: str  # draft, running, paused, cancelled, finished
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    rules: CampaignRules
    columns: list[str]
    contacts: ContactCounts
    attempts: int
    calls_in_progress: int
    next_call_at: datetime | None  # the earliest due contact (the window may push the real dial later)
    completes: int
    quota: int | None


class CampaignList(BaseModel):
    """Every campaign, newest first."""

    campaigns: list[CampaignStatus]


class DispositionCount(BaseModel):
    """How many contacts ended with one disposition (slug and AAPOR code)."""

    disposition: str
    code: str
    count: int


class CampaignReport(BaseModel):
    """Final dispositions and the AAPOR rates computed from them (contacts still open are counted apart)."""

    campaign_id: str
    contacts: int
    open_contacts: int  # not final yet: in no rate
    dispositions: list[DispositionCount]
    groups: dict[str, int]  # I, P, R, NC, O, UH, UO, NE
    rates: dict[str, float | None]  # RR1, RR2, COOP1, REF1, CON1 as fractions; None: nothing to divide yet
    formulas: dict[str, str]


class RowProblem(BaseModel):
    """A row of the list that was not imported as a callable contact."""

    line: int
    reason: str


class ImportReport(BaseModel):
    """A new campaign and what its import did (the first 1000 problem rows of each kind are listed)."""

    campaign_id: str
    imported: int
    rejected: int
    duplicates: int
    suppressed: int
    rejected_rows: list[RowProblem]
    duplicate_rows: list[RowProblem]
    suppressed_rows: list[RowProblem]
    unfilled_placeholders: list[str] = Field(
        default_factory=list, description="{placeholders} the form's opening names that no column of the list "
                                          "fills: its calls leave them out (a misspelt column?)")


class ContactLine(BaseModel):
    """One contact as the dashboard's table and the API list it."""

    contact_id: int
    phone: str
    name: str | None
    timezone: str
    locale: str | None
    state: str
    attempts: int
    last_attempt_at: datetime | None
    last_outcome: str | None
    disposition: str | None
    disposition_code: str | None
    response_id: str | None
    variables: dict[str, Any]


class ContactPage(BaseModel):
    """A page of contacts in list order; `next_cursor` fetches the next ("" at the end)."""

    items: list[ContactLine]
    next_cursor: str


class SuppressionLine(BaseModel):
    """A number no campaign may call."""

    phone: str
    reason: str
    source: str | None
    created_at: datetime


class SuppressionPage(BaseModel):
    """A page of the suppression list in number order; `next_cursor` fetches the next ("" at the end)."""

    items: list[SuppressionLine]
    total: int
    next_cursor: str
