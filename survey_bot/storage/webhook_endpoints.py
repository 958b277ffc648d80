"""Outbound webhook endpoints and their deliveries as the admin manages them (CLI `webhooks`, /api/webhooks): add
(with a new signing secret; an endpoint that takes sensitive answers is recorded in the audit log), list, remove,
rotate the secret, a delivery log per endpoint, redeliver. Functions take a session and never commit."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.campaigns.settings import SettingError, parse_duration
from survey_bot.storage.audit import record_audit
from survey_bot.storage.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = ["DEFAULT_OVERLAP", "WEBHOOK_SENSITIVE", "DeliveryLog", "add_endpoint", "delivery_entry", "delivery_log",
           "endpoint", "endpoints", "new_secret", "parse_overlap", "redeliver", "remove_endpoint", "rotate_secret"]

WEBHOOK_SENSITIVE = "webhook_sensitive"  # the audit action: an endpoint that receives x-sensitive answers
DEFAULT_OVERLAP = "24h"  # rotate-secret: how long the old secret still signs, so receivers switch without a gap


def parse_overlap(text: str) -> timedelta:
    """rotate-secret's overlap: `0` (the old secret stops signing at once) or a duration like `90s`, `30m`, `24h`
    (at most 30 days); a SettingError names the option otherwise."""
    if text.strip() == "0":
        return timedelta(0)
    seconds = parse_duration(text, "overlap")
    if seconds > 30 * 86_400:
        raise SettingError("overlap", f"{text!r} is longer than 30 days: an old secret should retire")
    return timedelta(seconds=seconds)


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def add_endpoint(session: AsyncSession, url: str, events: Sequence[str], include_sensitive: bool, actor: str,
                       now: datetime) -> WebhookEndpoint:
    """Store a new endpoint with a new secret (the caller checked the URL and the events)."""
    endpoint = WebhookEndpoint(id="ep_" + secrets.token_hex(8), url=url, events=list(dict.fromkeys(events)),
                               include_sensitive=include_sensitive, secret=new_secret(), created_at=now)
    session.add(endpoint)
    await session.flush()
    if include_sensitive:
        await record_audit(session, actor, WEBHOOK_SENSITIVE, None, 0,
                           f"endpoint {endpoint.id} added with sensitive answers: {url}", now)
    return endpoint


async def endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    return list((await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at,
                                                                        WebhookEndpoint.id))).all())


async def endpoint(session: AsyncSession, endpoint_id: str) -> WebhookEndpoint | None:
    """One endpoint (None: no such endpoint)."""
    return await session.get(WebhookEndpoint, endpoint_id)


async def remove_endpoint(session: AsyncSession, endpoint_id: str) -> bool:
    """Delete an endpoint with its deliveries and their log; False if there was none."""
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    gone = await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                                 .returning(WebhookEndpoint.id))
    return gone.first() is not None


async def rotate_secret(session: AsyncSession, endpoint_id: str, now: datetime,
                        overlap: timedelta = timedelta(0)) -> str | None:
    """Give the endpoint a new secret and return it (None: no such endpoint); the next attempt signs with it and,
    for `overlap`, with the old one too (two signatures in `webhook-signature`, as Standard Webhooks allows)."""
    secret = new_secret()
    keep = overlap > timedelta(0)
    done = await session.execute(
        update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        .values(secret=secret, previous_secret=WebhookEndpoint.secret if keep else None,
                previous_secret_until=now + overlap if keep else None)
        .returning(WebhookEndpoint.id))
    return secret if done.first() is not None else None


@dataclass(frozen=True)
class DeliveryLog:
    """A delivery and each of its attempts, oldest first."""

    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


async def delivery_log(session: AsyncSession, endpoint_id: str, limit: int = 100) -> list[DeliveryLog] | None:
    """The endpoint's newest deliveries with their attempts (None: no such endpoint)."""
    if await session.get(WebhookEndpoint, endpoint_id) is None:
        return None
    return await _with_attempts(session, list((await session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.occurred_at.desc(), WebhookDelivery.id).limit(limit))).all()))


async def delivery_entry(session: AsyncSession, delivery_id: str) -> DeliveryLog | None:
    """One delivery with its attempts (None: no such delivery)."""
    delivery = await session.get(WebhookDelivery, delivery_id)
    return None if delivery is None else (await _with_attempts(session, [delivery]))[0]


async def _with_attempts(session: AsyncSession, found: list[WebhookDelivery]) -> list[DeliveryLog]:
    tries: dict[str, list[WebhookAttempt]] = {d.id: [] for d in found}
    if found:
        for attempt in (await session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(list(tries)))
                                              .order_by(WebhookAttempt.id))).all():
            tries[attempt.delivery_id].append(attempt)
    return [DeliveryLog(delivery, tries[delivery.id]) for delivery in found]


async def redeliver(session: AsyncSession, delivery_id: str, now: datetime) -> WebhookDelivery | None:
    """Send a delivery again now, with its webhook-id and a fresh retry schedule (None: no such delivery); its
    endpoint, if a 410 disabled it, is enabled again (the admin says the receiver is back)."""
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return None
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id)
                          .values(disabled_at=None, disabled_reason=None))
    return delivery
