"""The outbound webhook outbox: an event becomes one delivery row per subscribed endpoint, written in the caller's
transaction (so it is committed with the change it reports, or not at all); deliveries are claimed when due and
their attempts recorded. Functions take a session and never commit.

Other code hands an event on with `enqueue_event(session, event_type, ...)` inside the transaction of the change.
`contact.disposed` (a campaign contact's final disposition) takes its data as `payload`: `contact_id`,
`campaign_id`, `phone`, `disposition`, `disposition_code` and `response_id` (None when nobody answered); it is
sent as given. The `response.*` events carry the response id only: the response is read when it is sent.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.storage.engine import upsert_insert
from survey_bot.storage.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from survey_bot.utc import as_utc
from survey_bot.utc import now as utc_now
from survey_bot.vocabulary import ABANDONED, COMPLETED, PARTIAL

__all__ = ["CONTACT_DISPOSED", "DEFAULT_EVENTS", "EVENTS", "UPDATED", "Attempt", "Due", "ResponseChange", "claim_due",
           "enqueue_event", "enqueue_events", "enqueue_response_changes", "record_attempt"]

UPDATED = "response.updated"
CONTACT_DISPOSED = "contact.disposed"
_FINAL = {COMPLETED: "response.completed", PARTIAL: "response.partial", ABANDONED: "response.abandoned"}
DEFAULT_EVENTS = tuple(_FINAL.values())
EVENTS = (*DEFAULT_EVENTS, UPDATED, CONTACT_DISPOSED)


@dataclass(frozen=True)
class ResponseChange:
    """What one event did to a response: its status before and after, and whether its answers changed."""

    response_id: str
    old_status: str
    new_status: str
    answers_changed: bool


def _new_id() -> str:
    return "msg_" + secrets.token_hex(12)


async def _subscribers(session: AsyncSession) -> list[tuple[str, frozenset[str]]]:
    rows = await session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                                 .where(WebhookEndpoint.disabled_at.is_(None)))
    return [(endpoint_id, frozenset(events)) for endpoint_id, events in rows.all()]


async def enqueue_event(session: AsyncSession, event_type: str, *, response_id: str | None = None,
                        payload: dict[str, Any] | None = None, now: datetime | None = None) -> list[str]:
    """Queue `event_type` for every endpoint that takes it, in the caller's transaction; return the delivery ids
    (a `response.updated` already waiting for an endpoint is not queued twice)."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r} (known: {', '.join(EVENTS)})")
    return await _enqueue(session, [(event_type, response_id, payload or {})], now or utc_now())


async def enqueue_events(session: AsyncSession, event_type: str, payloads: Sequence[dict[str, Any]],
                         now: datetime) -> None:
    """Queue one `event_type` per payload (a batch of contact.disposed: one statement, not one per contact)."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r} (known: {', '.join(EVENTS)})")
    if payloads:
        await _enqueue(session, [(event_type, None, dict(payload)) for payload in payloads], now)


async def enqueue_response_changes(session: AsyncSession, changes: Sequence[ResponseChange], now: datetime) -> None:
    """The write path's events: a `response.<status>` per change into a final status, a `response.updated` per
    response whose answers or status changed."""
    events: list[tuple[str, str | None, dict[str, Any]]] = []
    updated: dict[str, None] = {}
    for change in changes:
        if change.new_status != change.old_status and change.new_status in _FINAL:
            events.append((_FINAL[change.new_status], change.response_id, {}))
        if change.answers_changed or change.new_status != change.old_status:
            updated[change.response_id] = None
    events.extend((UPDATED, response_id, {}) for response_id in updated)
    if events:
        await _enqueue(session, events, now)


async def _enqueue(session: AsyncSession, events: Iterable[tuple[str, str | None, dict[str, Any]]],
                   now: datetime) -> list[str]:
    endpoints = await _subscribers(session)
    if not endpoints:
        return []
    plain: list[dict[str, Any]] = []
    coalesced: list[dict[str, Any]] = []
    for event_type, response_id, payload in events:
        for endpoint_id, wanted in endpoints:
            if event_type not in wanted:
                continue
            row = {"id": _new_id(), "endpoint_id": endpoint_id, "event_type": event_type, "response_id": response_id,
                   "payload": payload, "occurred_at": now, "status": "pending", "attempts": 0,
                   "next_attempt_at": now, "coalesce_key": None, "delivered_at": None}
            if event_type == UPDATED and response_id is not None:
                coalesced.append({**row, "coalesce_key": f"{endpoint_id}:{response_id}"})
            else:
                plain.append(row)
    connection = await session.connection()
    if plain:
        await connection.execute(insert(WebhookDelivery), plain)
    for row in coalesced:
        # One waiting response.updated per response and endpoint. On a conflict the waiting row is updated
        # (not skipped): that locks it, so a worker cannot claim it and read the response before this
        # transaction's change is committed (it would send the older answers and the newer would never go).
        statement = upsert_insert(session)(WebhookDelivery).values(row)
        statement = statement.on_conflict_do_update(index_elements=["coalesce_key"],
                                                    set_={"occurred_at": statement.excluded.occurred_at})
        await connection.execute(statement)
    return [row["id"] for row in plain + coalesced]


@dataclass(frozen=True)
class Due:
    """A claimed delivery, with what sending it needs of its endpoint."""

    id: str
    endpoint_id: str
    event_type: str
    response_id: str | None
    payload: dict[str, Any]
    occurred_at: datetime
    attempts: int
    url: str
    secret: str
    include_sensitive: bool
    previous_secret: str | None = None  # also signs, during a rotation's overlap


async def claim_due(session: AsyncSession, now: datetime, lease: timedelta, limit: int = 50) -> list[Due]:
    """Claim due deliveries of enabled endpoints until `now + lease` (PostgreSQL: SKIP LOCKED, so workers and hosts
    take different rows; SQLite: the transaction holds the write lock). A claim not settled by then (its worker
    died) is due again, under the same webhook-id."""
    statement = (select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret, WebhookEndpoint.include_sensitive,
                        WebhookEndpoint.previous_secret, WebhookEndpoint.previous_secret_until)
                 .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                 .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                        WebhookEndpoint.disabled_at.is_(None))
                 .order_by(WebhookDelivery.next_attempt_at).limit(limit)
                 .with_for_update(skip_locked=True, of=WebhookDelivery))
    claimed = []
    for delivery, url, secret, include_sensitive, previous, until in (await session.execute(statement)).all():
        overlapping = previous if until is not None and as_utc(until) > now else None
        claimed.append(Due(delivery.id, delivery.endpoint_id, delivery.event_type, delivery.response_id,
                           dict(delivery.payload), delivery.occurred_at, delivery.attempts, url, secret,
                           include_sensitive, overlapping))
    if claimed:
        # Claimed: no longer the response's waiting response.updated (a later change queues a new one).
        await session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_([d.id for d in claimed]))
                              .values(next_attempt_at=now + lease, coalesce_key=None))
    return claimed


@dataclass(frozen=True)
class Attempt:
    """How one try went: the receiver's status (None: no answer), its latency, what went wrong (None: a 2xx)."""

    status_code: int | None
    latency_ms: int
    error: str | None = None

    @property
    def delivered(self) -> bool:
        """A 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


GONE = 410


async def record_attempt(session: AsyncSession, due: Due, attempt: Attempt, schedule: Sequence[float],
                         now: datetime) -> str:
    """Log the attempt and settle the delivery: delivered, due again after the schedule's next wait, or failed
    (schedule spent, or a 410, which also disables the endpoint); return the delivery's status."""
    await session.execute(insert(WebhookAttempt).values(
        delivery_id=due.id, response_id=due.response_id, at=now, status_code=attempt.status_code,
        latency_ms=attempt.latency_ms, error=attempt.error[:1000] if attempt.error else None))
    attempts = due.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "next_attempt_at": None}
    if attempt.delivered:
        values.update(status="delivered", delivered_at=now)
    elif attempt.status_code == GONE or attempts > len(schedule):
        values.update(status="failed")
    else:
        values.update(status="pending", next_attempt_at=now + timedelta(seconds=schedule[attempts - 1]))
    if attempt.status_code == GONE:
        await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == due.endpoint_id)
                              .values(disabled_at=now, disabled_reason="the receiver answered 410 Gone"))
    await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == due.id).values(**values))
    return str(values["status"])
