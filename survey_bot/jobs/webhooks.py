"""The outbound webhook job: claim due deliveries, sign each with its endpoint's secret (Standard Webhooks, the
reference `standardwebhooks` library), POST it with httpx under explicit timeouts, and record the attempt.

Every web process runs it (started with the dispatcher). A claim holds a delivery for LEASE (SKIP LOCKED on
PostgreSQL, the write lock on SQLite), so several workers and hosts never send one event at once; no transaction
is open while a receiver is waited on. A worker that dies mid-send leaves its claim to run out, and the event is
sent again under the same `webhook-id` (receivers deduplicate on it). Non-2xx answers, timeouts and refused
connections are retried after SURVEY_BOT_WEBHOOKS_RETRY_SCHEDULE's waits; a 410 disables the endpoint.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from survey_bot import __version__
from survey_bot.jobs.webhook_targets import Target, TargetError, resolve_target
from survey_bot.periodic import Periodic
from survey_bot.storage.webhook_outbox import Attempt, Due, claim_due, record_attempt
from survey_bot.utc import now as utc_now

__all__ = ["LEASE", "TIMEOUT", "Render", "WebhookJob", "signed_request"]

log = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # per phase; DEADLINE bounds a receiver that trickles its answer
DEADLINE = 30.0
LEASE = timedelta(seconds=DEADLINE * 2)  # a claim outlives any attempt by far: never two sends at once
INTERVAL = 1.0
# The event's `data` (None: its response is no longer stored): the response as the NDJSON export writes it.
Render = Callable[[Due], Awaitable[dict[str, Any] | None]]


def signed_request(due: Due, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The body (`type`, `timestamp`, `data`) and the Standard Webhooks headers, signed now (with the new and the
    old secret, space-separated, while a rotation overlaps)."""
    body = json.dumps({"type": due.event_type, "timestamp": due.occurred_at.isoformat(), "data": data},
                      ensure_ascii=False, separators=(",", ":"))
    now = utc_now()
    secrets = [due.secret] + ([due.previous_secret] if due.previous_secret else [])
    headers = {"webhook-id": due.id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": " ".join(Webhook(secret).sign(due.id, now, body) for secret in secrets),
               "content-type": "application/json", "user-agent": f"survey-bot/{__version__}"}
    return body.encode(), headers


def _pinned(target: Target) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The URL with the checked address in place of the name, the Host header and (https) the name for TLS: the
    connection goes where the check said, whatever the name resolves to a moment later."""
    parts = urlsplit(target.url)
    address = ipaddress.ip_address(target.address)
    host = f"[{address}]" if address.version == 6 else str(address)
    url = urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))
    extensions: dict[str, Any] = {"sni_hostname": target.host} if parts.scheme == "https" else {}
    return url, {"host": parts.netloc}, extensions


class WebhookJob:
    """Delivers due webhooks every `interval` seconds until stopped."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], render: Render, schedule: Sequence[float],
                 allow_private: bool) -> None:
        self._sessions, self._render = sessions, render
        self.schedule, self.allow_private = tuple(schedule), allow_private
        self._client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
        self._loop = Periodic("webhooks", self.run_once)

    async def run_once(self) -> int:
        """Claim what is due and send it; return how many deliveries were attempted."""
        async with self._sessions() as session, session.begin():
            claimed = await claim_due(session, utc_now(), LEASE)
        if claimed:
            await asyncio.gather(*(self._deliver(due) for due in claimed))
        return len(claimed)

    async def _deliver(self, due: Due) -> None:
        began = time.monotonic()
        schedule = self.schedule
        try:
            attempt = await asyncio.wait_for(self._send(due, began), DEADLINE)
        except _Gone as exc:  # nothing to send any more: no retry
            attempt, schedule = Attempt(None, 0, str(exc)), ()
        except TimeoutError:
            attempt = Attempt(None, _ms(began), f"no answer within {DEADLINE:g} s")
        except TargetError as exc:
            attempt = Attempt(None, _ms(began), str(exc))
        except httpx.TimeoutException as exc:
            attempt = Attempt(None, _ms(began), f"timed out ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            attempt = Attempt(None, _ms(began), f"{type(exc).__name__}: {exc}"[:300])
        async with self._sessions() as session, session.begin():
            status = await record_attempt(session, due, attempt, schedule, utc_now())
        if not attempt.delivered:
            log.warning("webhook %s (%s) to endpoint %s: %s; %s", due.id, due.event_type, due.endpoint_id,
                        attempt.error, "will retry" if status == "pending" else status)

    async def _send(self, due: Due, began: float) -> Attempt:
        data = await self._render(due)
        if data is None:
            raise _Gone("the response is no longer stored (purged): nothing to send")
        target = await resolve_target(due.url, self.allow_private)
        body, headers = signed_request(due, data)
        url, host, extensions = _pinned(target)
        answer = await self._client.post(url, content=body, headers={**headers, **host}, extensions=extensions)
        error = None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"
        return Attempt(answer.status_code, _ms(began), error)

    def start(self, interval: float = INTERVAL) -> None:
        """Look for due deliveries every `interval` seconds."""
        self._loop.start(interval)

    async def stop(self) -> None:
        """Stop looking; an attempt under way is cancelled (its claim runs out and it is sent again later)."""
        await self._loop.stop()
        await self._client.aclose()


class _Gone(Exception):
    """What the event is about is gone."""


def _ms(began: float) -> int:
    return int((time.monotonic() - began) * 1000)
