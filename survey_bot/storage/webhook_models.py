"""The outbound webhook tables (migration 0010): the endpoints responses are handed on to, the deliveries (an
outbox row per event and endpoint, committed with the change that caused it) and the log of every attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from survey_bot.storage.base import Base
from survey_bot.storage.models import UTCDateTime

__all__ = ["WebhookAttempt", "WebhookDelivery", "WebhookEndpoint"]


class WebhookEndpoint(Base):
    """A receiver: its URL, the events it takes, its signing secret, and whether a 410 switched it off."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # ep_<hex>
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]]
    include_sensitive: Mapped[bool] = mapped_column(Boolean)
    secret: Mapped[str] = mapped_column(String(100))  # whsec_<base64>: shown once, at add and at rotate-secret
    # After rotate-secret, the old secret also signs until previous_secret_until (migration 0012), so a receiver
    # can switch to the new one without rejecting deliveries in between.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Base):
    """One event for one endpoint: its id is the `webhook-id` of every attempt. `pending` until delivered (a
    2xx), `failed` once the retry schedule is spent or the endpoint answered 410. `coalesce_key` is set while a
    `response.updated` waits unclaimed, so a response has at most one of them pending per endpoint."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_<hex>
    endpoint_id: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    response_id: Mapped[str | None] = mapped_column(String(36), index=True)
    payload: Mapped[dict[str, Any]]  # the event's own data (contact.disposed); responses are read when sent
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    coalesce_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """One try at a delivery: the receiver's status (None: no answer), how long it took, what went wrong."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(40), index=True)
    response_id: Mapped[str | None] = mapped_column(String(36), index=True)  # purged with the response
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
