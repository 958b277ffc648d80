"""Deliver signed webhooks to the app the way Telnyx does: 2 s to acknowledge, bounded redelivery."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from survey_bot.simulator.scenario import Delivery
from survey_bot.simulator.signer import WebhookSigner

__all__ = ["DeliveryAttempt", "RetryPolicy", "WebhookDelivery", "check_loopback_url"]

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_loopback_url(url: str) -> str:
    """Return `url` if it is an http(s) URL on this machine, else raise ValueError.

    The simulator only ever posts to the app under test, never to the network.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in _LOOPBACK_HOSTS:
        raise ValueError(f"webhook_url must be an http(s) URL on 127.0.0.1, localhost or ::1, got {url!r}")
    return url


@dataclass(frozen=True)
class RetryPolicy:
    """Redelivery schedule. Telnyx documents the 2 s acknowledgement; its count and backoff: not found.

    The defaults give at most 8 attempts, about 30 s in the worst case (every attempt timing out).
    """

    max_attempts: int = 8
    first_backoff_s: float = 0.25
    max_backoff_s: float = 2.0
    ack_timeout_s: float = 2.0

    def backoff(self, attempt: int) -> float:
        """Return the wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.first_backoff_s * 2 ** (attempt - 1), self.max_backoff_s))


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of one event to the app, and how it went."""

    event_id: str
    event_type: str
    call_control_id: str
    attempt: int
    duplicate: bool
    status_code: int | None
    error: str | None
    at: float

    @property
    def delivered(self) -> bool:
        """Return whether the app acknowledged this attempt with a 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class _Job:
    event: dict[str, Any]  # the body without `meta`
    duplicate: bool
    delay_s: float


class WebhookDelivery:
    """Per-call delivery queues: in order per call (unless reordering is asked), calls in parallel."""

    def __init__(self, signer: WebhookSigner, policy: RetryPolicy, on_change: Callable[[], None] | None = None) -> None:
        self.signer = signer
        self.policy = policy
        self.url: str | None = None
        self.attempts: list[DeliveryAttempt] = []
        self._on_change = on_change or (lambda: None)
        self._queues: dict[str, deque[_Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._shufflers: dict[str, random.Random] = {}
        self._client: httpx.AsyncClient | None = None

    def submit(self, call_control_id: str, events: list[dict[str, Any]], options: Delivery) -> None:
        """Queue the events one command caused, applying the call's duplicate/reorder options."""
        jobs = [_Job(e, False, options.delay_s) for e in events if e["data"]["event_type"] not in options.drop]
        if not jobs:
            return
        if options.duplicate_every:
            jobs = [j for job in jobs for j in (job, _Job(job.event, True, options.delay_s))]
        if options.reorder_window > 1:
            rng = self._shufflers.setdefault(call_control_id, random.Random(options.seed))  # noqa: S311 - not crypto
            w = options.reorder_window
            windows = [jobs[i : i + w] for i in range(0, len(jobs), w)]
            for window in windows:
                rng.shuffle(window)
            jobs = [job for window in windows for job in window]
        self._queues.setdefault(call_control_id, deque()).extend(jobs)
        if call_control_id not in self._workers:
            self._workers[call_control_id] = asyncio.create_task(
                self._drain(call_control_id), name=f"telnyx-sim webhooks {call_control_id}"
            )

    def busy(self, call_control_id: str | None = None) -> bool:
        """Return whether events of this call (or of any call) are queued or being delivered."""
        return bool(self._workers) if call_control_id is None else call_control_id in self._workers

    async def aclose(self) -> None:
        """Stop every delivery in progress and close the HTTP client."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _drain(self, call_control_id: str) -> None:
        queue = self._queues[call_control_id]
        try:
            while queue:
                await self._deliver(call_control_id, queue.popleft())
        finally:
            queue.clear()
            del self._workers[call_control_id]
            self._on_change()

    async def _deliver(self, call_control_id: str, job: _Job) -> None:
        """Deliver one event until acknowledged or out of attempts; each attempt is signed afresh."""
        if job.delay_s > 0:
            await asyncio.sleep(job.delay_s)
        data = job.event["data"]
        for attempt in range(1, self.policy.max_attempts + 1):
            status, error = await self._post_attempt(job.event, attempt)
            record = DeliveryAttempt(
                data["id"],
                data["event_type"],
                call_control_id,
                attempt,
                job.duplicate,
                status,
                error,
                time.time(),
            )
            self.attempts.append(record)
            self._on_change()
            if record.delivered:
                return
            if self.url is None or attempt == self.policy.max_attempts:
                return  # given up
            await asyncio.sleep(self.policy.backoff(attempt))

    async def _post_attempt(self, event: dict[str, Any], attempt: int) -> tuple[int | None, str | None]:
        """POST one attempt; return (status, None) or (None, what went wrong)."""
        url = self.url
        if url is None:
            return None, "no webhook_url configured"
        body = {**event, "meta": {"attempt": attempt, "delivered_to": url}}
        raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
        if self._client is None:
            # trust_env=False: a proxy from the environment must never see (or swallow) loopback traffic.
            # timeout=None: asyncio.timeout below bounds the whole attempt, connect to last byte.
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=None)  # noqa: S113
        try:
            async with asyncio.timeout(self.policy.ack_timeout_s):
                response = await self._client.post(url, content=raw, headers=self.signer.headers(raw))
        except TimeoutError:
            return None, f"no answer within {self.policy.ack_timeout_s:g} s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None
