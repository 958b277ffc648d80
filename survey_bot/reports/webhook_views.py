"""Outbound webhook endpoints and deliveries as people read them: the shapes GET /api/webhooks... answers with
and `survey-bot webhooks` prints (the secret only when it is made: at add and at rotate-secret)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from survey_bot.storage.webhook_endpoints import DeliveryLog
from survey_bot.storage.webhook_models import WebhookEndpoint
from survey_bot.utc import as_utc

__all__ = ["AttemptView", "DeliveryList", "DeliveryView", "EndpointList", "EndpointView", "EventName",
           "NewSecret", "delivery_view", "endpoint_view"]

EventName = Literal["response.completed", "response.partial", "response.abandoned", "response.updated",
                    "contact.disposed"]


class EndpointView(BaseModel):
    """A receiver of outbound webhooks (its secret is shown only when made)."""

    id: str
    url: str
    events: list[str]
    include_sensitive: bool = Field(description="deliveries include x-sensitive answers (recorded in the audit log)")
    created_at: datetime
    disabled_at: datetime | None = Field(description="set when the receiver answered 410 Gone; null: enabled")
    disabled_reason: str | None
    previous_secret_until: datetime | None = Field(
        None, description="after rotate-secret, the old secret also signs deliveries until then; null: it does not")


class NewSecret(BaseModel):
    """An endpoint and its new signing secret (Standard Webhooks, `whsec_...`): keep it, it is not shown again."""

    endpoint: EndpointView
    secret: str


class EndpointList(BaseModel):
    """Every endpoint, oldest first."""

    items: list[EndpointView]


class AttemptView(BaseModel):
    """One try: the receiver's HTTP status (null: no answer), how long it took, what went wrong."""

    at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryView(BaseModel):
    """One event for one endpoint; its id is the `webhook-id` header of every attempt."""

    id: str
    event_type: str
    response_id: str | None
    status: str = Field(description="pending, delivered, or failed (retries spent, or a 410)")
    occurred_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempts: list[AttemptView]


class DeliveryList(BaseModel):
    """An endpoint's newest deliveries first."""

    items: list[DeliveryView]


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def endpoint_view(endpoint: WebhookEndpoint) -> EndpointView:
    """The endpoint without its secret."""
    return EndpointView(id=endpoint.id, url=endpoint.url, events=list(endpoint.events),
                        include_sensitive=endpoint.include_sensitive, created_at=as_utc(endpoint.created_at),
                        disabled_at=_utc(endpoint.disabled_at), disabled_reason=endpoint.disabled_reason,
                        previous_secret_until=_utc(endpoint.previous_secret_until))


def delivery_view(log: DeliveryLog) -> DeliveryView:
    """A delivery with its attempts."""
    d = log.delivery
    return DeliveryView(id=d.id, event_type=d.event_type, response_id=d.response_id, status=d.status,
                        occurred_at=as_utc(d.occurred_at), next_attempt_at=_utc(d.next_attempt_at),
                        delivered_at=_utc(d.delivered_at),
                        attempts=[AttemptView(at=as_utc(a.at), status_code=a.status_code, latency_ms=a.latency_ms,
                                              error=a.error) for a in log.attempts])
