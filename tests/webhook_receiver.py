"""A receiver of survey-bot's outbound webhooks for the tests: a small Quart app on 127.0.0.1 that keeps every
request and answers with whatever status the test sets (204 by default); deliveries are verified with the
reference `standardwebhooks` library, as a customer's receiver would."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from quart import Quart, request
from standardwebhooks import Webhook

__all__ = ["Received", "Receiver"]


@dataclass(frozen=True)
class Received:
    """One request as the receiver got it, and what it answered."""

    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified(self, secret: str) -> dict[str, Any]:
        """The body, once its signature checks out with `secret` (raises WebhookVerificationError otherwise)."""
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload


@dataclass
class Receiver:
    """Keeps what it receives; `answer` is the status it replies with."""

    answer: int = 204
    delay: float = 0.0  # seconds before answering (a slow receiver)
    received: list[Received] = field(default_factory=list)

    def app(self) -> Quart:
        app = Quart("receiver")

        @app.post("/hook")
        async def hook() -> tuple[str, int]:
            headers = {k.lower(): v for k, v in request.headers.items()}
            await asyncio.sleep(self.delay)
            self.received.append(Received(headers, await request.get_data(as_text=False), self.answer))
            return "", self.answer

        return app

    def delivered(self, secret: str) -> dict[str, dict[str, Any]]:
        """Each acknowledged (2xx) event once, by webhook-id, verified; raises if an id was acknowledged twice."""
        found: dict[str, dict[str, Any]] = {}
        for item in self.received:
            if 200 <= item.answered < 300:
                assert item.webhook_id not in found, f"{item.webhook_id} acknowledged twice"
                found[item.webhook_id] = item.verified(secret)
        return found

    async def wait_for(self, secret: str, count: int, timeout: float = 20.0) -> dict[str, dict[str, Any]]:
        """Wait until `count` distinct events were acknowledged; return them."""
        deadline = time.monotonic() + timeout
        while len(found := self.delivered(secret)) < count:
            if time.monotonic() > deadline:
                kinds = [json.loads(r.body)["type"] for r in self.received]
                raise TimeoutError(f"{len(found)} of {count} events delivered; received {kinds}")
            await asyncio.sleep(0.05)
        return found
