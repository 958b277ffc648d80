"""POST /webhooks/telnyx as one plain ASGI handler: raw body -> verify -> parse -> submit (commit once) -> 2xx.

Why plain ASGI: webhooks are the hot path, and Quart's per-request machinery (request and app contexts,
routing, hooks, response conversion) cost 0.23 ms a request here, more than the rest of the intake together
(bench/ingest.py). This handler owns the whole route, limits included: a body over `max_body_bytes` is
refused from its Content-Length or as soon as a chunked stream passes it (413), a body trickled in slower than
`body_timeout` is cut off (408), any other method is a 405. Every other path goes to the wrapped app.

Nothing here waits on Telnyx: commands go to the outbox and the dispatcher sends them after the answer.
Each webhook is counted by event type and result, and its time from body to answer observed (observe.metrics:
an increment in memory, nothing that waits); what is logged while it is handled carries its ids.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from survey_bot.errors import PayloadError, SignatureError
from survey_bot.flow.events import Event
from survey_bot.intake.write_path import Outcome
from survey_bot.observe import metrics
from survey_bot.observe.log_context import log_context
from survey_bot.telephony.envelope import parse_event

__all__ = ["PATH", "NotStored", "WebhookEndpoint"]

log = logging.getLogger(__name__)
PATH = "/webhooks/telnyx"
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))

# ASGI messages as plain mappings (the servers' TypedDict unions add nothing for a byte-level path)
Scope = Any
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Verify = Callable[[bytes, Mapping[str, str]], str]  # the body as text, or SignatureError / PayloadError
Submit = Callable[[Event], Awaitable[Outcome]]


class NotStored(Exception):
    """The event could not be committed (the reason is the cause, already logged)."""


class _TooLarge(Exception):
    """The body passed the size limit while it streamed in."""


class WebhookEndpoint:
    """The ASGI app in front of survey-bot's web app: it answers the webhook route, the wrapped app the rest."""

    def __init__(self, app: ASGIApp, *, verify: Verify, submit: Submit, max_body_bytes: int,
                 body_timeout: float, insecure: bool = False) -> None:
        self.app = app
        self.verify = verify
        self.submit = submit
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.insecure = insecure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in (PATH, scope.get("root_path", "") + PATH):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _answer(send, 405, "method_not_allowed", "The method is not allowed for the requested URL.",
                          [(b"allow", b"POST")])
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}  # (ASGI: lowercase names)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            metrics.webhook(metrics.UNKNOWN, "too_large")
            await _answer(send, 413, "request_entity_too_large", _too_large(self.max_body_bytes))
            return
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await self._read_body(receive)
        except TimeoutError:
            metrics.webhook(metrics.UNKNOWN, "timeout")
            await _answer(send, 408, "request_timeout", f"The body did not arrive within {self.body_timeout:g} s.")
            return
        except _TooLarge:
            metrics.webhook(metrics.UNKNOWN, "too_large")
            await _answer(send, 413, "request_entity_too_large", _too_large(self.max_body_bytes))
            return
        if body is None:
            metrics.webhook(metrics.UNKNOWN, "disconnected")
            return  # the client went away: nothing to answer, nothing processed
        try:
            result, status = await self.receive_webhook(body, headers)
        except Exception as exc:  # the store failed: Telnyx redelivers a non-2xx, and nothing was half-kept
            if not isinstance(exc, NotStored):  # (which was logged with the event's ids)
                log.exception("webhook not processed")
            await _answer(send, 500, "internal_server_error", "The webhook could not be stored; send it again.")
            return
        await _send_json(send, status, result)

    async def receive_webhook(self, body: bytes, headers: Mapping[str, str]) -> tuple[dict[str, Any], int]:
        """Verify, parse and commit one webhook; return the JSON answer and its status (raise if not stored)."""
        started = time.perf_counter()
        if self.insecure:
            log.warning("webhook accepted WITHOUT signature verification (--insecure-skip-verify)")
        try:
            event = parse_event(self.verify(body, headers))
        except SignatureError as exc:
            metrics.webhook(metrics.UNKNOWN, "invalid_signature")
            return {"error": "invalid_signature", "detail": str(exc)}, 401
        except PayloadError as exc:
            metrics.webhook(metrics.UNKNOWN, "invalid_payload")
            return {"error": "invalid_payload", "detail": str(exc)}, 400
        with log_context(event_id=event.id, call_control_id=event.call_control_id, response_id=event.response_id):
            try:
                outcome = await self.submit(event)
            except Exception as exc:
                metrics.webhook(event.event_type, "error")
                log.exception("webhook not processed")
                raise NotStored(event.id) from exc
            metrics.webhook(event.event_type, outcome.state)
            metrics.intake_seconds(time.perf_counter() - started)
            if log.isEnabledFor(logging.DEBUG):
                with log_context(response_id=outcome.response_id):
                    log.debug("webhook %s %s: %d command(s)", event.event_type, outcome.state, outcome.commands)
        return {"event_id": event.id, "result": outcome.state, "commands": outcome.commands}, 200

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The request body (None if the client disconnected before sending all of it)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _too_large(limit: int) -> str:
    return f"The body is larger than {limit} bytes (SURVEY_BOT_MAX_BODY_BYTES)."


async def _answer(send: Send, status: int, error: str, detail: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send_json(send, status, {"error": error, "detail": detail}, headers)


async def _send_json(send: Send, status: int, answer: dict[str, Any],
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = f"{_COMPACT.encode(answer)}\n".encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
