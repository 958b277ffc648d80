"""The campaign tables: a campaign, its contacts (the imported list), each dial attempt, and the do-not-call
list every campaign honours (migrations 0008, 0011).

A contact's `state` drives the scheduler: `pending` (due at `next_attempt_at`), `dialing` (an attempt is
in flight; never two at once), `done` (its final disposition is set). Attempts keep what Telnyx said about
each dial (hang-up cause, AMD result) whether or not a person answered; only an answered attempt gets a
response row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from survey_bot.storage.base import Base
from survey_bot.storage.models import UTCDateTime

__all__ = ["Campaign", "CampaignContact", "ContactAttempt", "Suppression"]


class Campaign(Base):
    """One survey run over a contact list, with its calling rules."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    form_id: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16))  # draft, running, paused, cancelled, finished
    window_start: Mapped[str] = mapped_column(String(5))  # HH:MM, contact's local time
    window_end: Mapped[str] = mapped_column(String(5))
    days: Mapped[str] = mapped_column(String(40))  # normalised: "mon,tue,wed,thu,fri,sat"
    max_attempts: Mapped[int] = mapped_column(Integer)
    retry_after_seconds: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    rate: Mapped[float] = mapped_column(Float)  # dials per second, summed over every worker and host
    amd: Mapped[bool] = mapped_column(Boolean)
    voicemail: Mapped[str | None] = mapped_column(Text)
    quota: Mapped[int | None] = mapped_column(Integer)
    locale: Mapped[str | None] = mapped_column(String(35))
    default_region: Mapped[str | None] = mapped_column(String(2))
    caller_id: Mapped[str | None] = mapped_column(String(40))
    columns: Mapped[list[Any]]  # the list's own column names, in file order (export keeps them)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_dial_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the scheduler's plan: its last dial's slot
    # the rate enforced: no dial of this campaign is sent before it (storage.send_pacing, every dispatcher)
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignContact(Base):
    """One person to call: the normalised number, where and how to reach them, and where they stand."""

    __tablename__ = "campaign_contacts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "phone"),
        Index("ix_campaign_contacts_due", "campaign_id", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    line: Mapped[int] = mapped_column(Integer)  # the CSV line it came from (first one, when merged)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    timezones: Mapped[str] = mapped_column(Text)  # IANA zones, comma-separated (every one must be in window)
    locale: Mapped[str | None] = mapped_column(String(35))
    name: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[dict[str, Any]]  # the list's other columns
    state: Mapped[str] = mapped_column(String(16))  # pending, dialing, done
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(20))
    disposition: Mapped[str | None] = mapped_column(String(20))
    disposition_code: Mapped[str | None] = mapped_column(String(8))
    response_id: Mapped[str | None] = mapped_column(String(36))  # the one response it feeds (resumed on retry)


class ContactAttempt(Base):
    """One dial of one contact and what came of it."""

    __tablename__ = "contact_attempts"
    __table_args__ = (UniqueConstraint("contact_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(String(36), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("campaign_contacts.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ...
    call_control_id: Mapped[str | None] = mapped_column(Text, index=True)
    dialed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # human, no_answer, busy, technical, machine, fax, invalid_number, refusal, opt_out, complete, partial,
    # break_off, quota_full (None while in flight)
    outcome: Mapped[str | None] = mapped_column(String(20))
    hangup_cause: Mapped[str | None] = mapped_column(String(40))
    amd_result: Mapped[str | None] = mapped_column(String(40))
    voicemail_left: Mapped[bool] = mapped_column(Boolean, server_default=false())
    response_id: Mapped[str | None] = mapped_column(String(36), index=True)  # (a dial's campaign, a call's attempt)


class Suppression(Base):
    """A number no campaign may call (an opt-out, or added by hand)."""

    __tablename__ = "suppressions"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    reason: Mapped[str] = mapped_column(String(40))  # manual, opt_out
    source: Mapped[str | None] = mapped_column(Text)  # cli:<user>, api:<address>, call:<response id>
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
