"""The SQL store's typed models: form versions, responses, webhook events, call-control commands, the admin's
door and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from survey_bot.storage.base import Base

__all__ = ["AdminSession", "AppSecret", "AuditEntry", "AuthFailure", "Command", "DispatcherProcess", "FormVersion",
           "Response", "WebhookEvent"]

UTCDateTime = DateTime(timezone=True)


class FormVersion(Base):
    """A form's schema exactly as it was when responses were collected, so exports stay right later."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form_id: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Response(Base):
    """One call's answers to one form, with how each answer was obtained and where the call stands."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_form_started", "form_id", "started_at"),
        Index("ix_responses_form_status", "form_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    form_id: Mapped[str] = mapped_column(String(100))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    # Text: columns hold whatever Telnyx may send (a SIP URI is a caller id too); telephony.envelope bounds
    # the call_control_id, the one value indexed and used as an address.
    call_control_id: Mapped[str | None] = mapped_column(Text, unique=True)
    call_session_id: Mapped[str | None] = mapped_column(Text)
    call_leg_id: Mapped[str | None] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(String(10))
    from_number: Mapped[str | None] = mapped_column(Text)
    to_number: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    # Conversation state: answers/sources are flat by dotted field name; the rest drives the flow.
    answers: Mapped[dict[str, Any]]
    sources: Mapped[dict[str, Any]]
    answer_times: Mapped[dict[str, Any]]
    message_history: Mapped[list[Any]]
    message_history_at: Mapped[str | None] = mapped_column(String(40))
    keypad_attempts: Mapped[list[Any]]
    keypad_queue: Mapped[list[Any] | None]
    current_field: Mapped[str | None] = mapped_column(String(200))
    ai_status: Mapped[str | None] = mapped_column(String(16))
    failures: Mapped[list[Any]]
    hangup_cause: Mapped[str | None] = mapped_column(String(40))
    hangup_source: Mapped[str | None] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Skip logic, re-asks, read-backs (migration 0004): see flow.state.CallState.
    provenance: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    keypad_done: Mapped[list[Any]] = mapped_column(server_default="[]")
    reasks: Mapped[int] = mapped_column(Integer, server_default="0")
    ai_ended: Mapped[int] = mapped_column(Integer, server_default="0")
    readback: Mapped[dict[str, Any] | None]
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    watchdog: Mapped[list[Any]] = mapped_column(server_default="[]")  # migration 0006
    # The locale the call speaks (migration 0009); "" while a language menu is still open.
    locale: Mapped[str] = mapped_column(String(35), server_default="en-US")
    outreach: Mapped[dict[str, Any]] = mapped_column(server_default="{}")  # migration 0008: AMD, disclosure, opt-out
    calls: Mapped[int] = mapped_column(Integer, server_default="1")  # migration 0008: see flow.resume


class WebhookEvent(Base):
    """Every webhook received, once: unique on Telnyx's event id, with its raw body and what became of it."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    call_control_id: Mapped[str | None] = mapped_column(Text, index=True)
    response_id: Mapped[str | None] = mapped_column(String(36), index=True)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class Command(Base):
    """A call-control command: written in the webhook's transaction (the outbox), sent later, in order."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command_id: Mapped[str] = mapped_column(String(200), unique=True)
    response_id: Mapped[str | None] = mapped_column(String(36), index=True)
    call_control_id: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # the DispatcherProcess sending it
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DispatcherProcess(Base):
    """A live dispatcher, so others can tell when a command it claimed has no sender any more.

    It beats its heart here every few seconds; a row whose heartbeat stopped, or whose process is gone from
    its own host (seen by another dispatcher on that host), is removed, and its claims are due again.
    """

    __tablename__ = "dispatchers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # host/boot/pid/start time
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AdminSession(Base):
    """A signed-in dashboard session, kept on the server so that logout, a token change and an idle timeout
    end it at once (the cookie carries only the random id; the row stores its SHA-256)."""

    __tablename__ = "admin_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_fingerprint: Mapped[str] = mapped_column(String(64))  # HMAC of the admin token it was opened with
    csrf: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuthFailure(Base):
    """Failed sign-ins and bearer tokens per client address in the current window, shared by every worker and
    host (the database), for the per-address limit."""

    __tablename__ = "auth_failures"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer)


class AppSecret(Base):
    """Random secrets generated once and shared by every instance (the dashboard's signing key when
    SURVEY_BOT_SECRET_KEY is not set)."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what to which form's data, and how much: written in the same transaction as the act (a purge),
    never holding the data itself (migration 0007)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))  # cli:<os user>, api:<address> session=bearer, retention-job:...
    action: Mapped[str] = mapped_column(String(40))  # purge (later: export_sensitive)
    form_id: Mapped[str | None] = mapped_column(String(100))
    rows: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)
