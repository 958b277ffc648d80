"""POST /webhooks/telnyx: raw body -> verify the signature -> parse -> process and commit once -> 2xx.

Nothing here waits on Telnyx: commands go to the outbox and the dispatcher sends them after the answer.

Webhooks are the hot path, so a plain one (a Content-Length within the limit) is answered straight from ASGI
by `WebhookFastPath`, which the blueprint installs in front of the app: Quart's per-request machinery (request
and app contexts, routing, hooks, response conversion) cost 0.23 ms a request here, more than the rest of the
intake together (bench/ingest.py). Everything else about the path is the Quart route's: the same
`receive_webhook`, the same JSON answers, and chunked or oversized bodies still go to the route, where Quart
refuses them with its 413.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, Quart, Response, current_app, request
from quart.blueprints import BlueprintSetupState
from werkzeug.exceptions import InternalServerError, RequestTimeout

from .errors import PayloadError, SignatureError
from .events import parse_event
from .extension import AppState, state

__all__ = ["PATH", "WebhookFastPath", "blueprint", "receive_webhook"]

log = logging.getLogger(__name__)
PATH = "/webhooks/telnyx"
# Flask's JSON provider (sort_keys, ensure_ascii) in compact form; answers hold only strings and numbers.
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
blueprint = Blueprint("webhooks", __name__)

# ASGI messages as plain mappings (the servers' TypedDict unions add nothing for a byte-level path)
Scope = Any
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def receive_webhook(app_state: AppState, body: bytes, headers: dict[str, str]) -> tuple[dict[str, Any], int]:
    """Verify, parse and commit one webhook; return the JSON answer and its status."""
    if app_state.settings.insecure_skip_verify:
        log.warning("webhook accepted WITHOUT signature verification (--insecure-skip-verify)")
    try:
        text = app_state.verify(body, headers)
        event = parse_event(text)
    except SignatureError as exc:
        return {"error": "invalid_signature", "detail": str(exc)}, 401
    except PayloadError as exc:
        return {"error": "invalid_payload", "detail": str(exc)}, 400
    outcome = await app_state.intake.submit(event)
    return {"event_id": event.id, "result": outcome.state, "commands": outcome.commands}, 200


@blueprint.post(PATH)
async def telnyx_webhook() -> Response:
    """Receive one Telnyx webhook (those the fast path hands over: chunked or oversized bodies)."""
    body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    assert isinstance(body, bytes)
    answer, status = await receive_webhook(state(current_app), body, dict(request.headers))
    response = current_app.json.response(answer)
    assert isinstance(response, Response)
    response.status_code = status
    return response


@blueprint.record_once
def _install_fast_path(setup: BlueprintSetupState) -> None:
    app = setup.app
    assert isinstance(app, Quart)
    app.asgi_app = WebhookFastPath(app, app.asgi_app)  # type: ignore[method-assign]


class WebhookFastPath:
    """ASGI middleware answering plain POST /webhooks/telnyx requests without Quart (see the module doc)."""

    def __init__(self, app: Quart, inner: ASGIApp) -> None:
        self.app = app
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH or scope.get("root_path"):
            await self.inner(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        limit = self.app.config["MAX_CONTENT_LENGTH"]
        if not length.isdigit() or "transfer-encoding" in headers or (limit is not None and int(length) > limit):
            await self.inner(scope, receive, send)  # Quart streams chunked bodies and answers 413
            return
        try:
            async with asyncio.timeout(self.app.config["BODY_TIMEOUT"]):
                body = await _read_body(receive)
        except TimeoutError:
            timeout = RequestTimeout()  # as Quart's request.get_data() raises it, answered as app.http_error does
            await self._answer(send, {"error": "request_timeout", "detail": timeout.description}, 408)
            return
        if body is None:
            return  # the client went away: nothing to answer, nothing processed
        try:
            answer, status = await receive_webhook(state(self.app), body, headers)
        except Exception:  # as Quart would: log it and answer a JSON 500
            log.exception("Exception on request POST %s", PATH)
            error = InternalServerError()
            answer, status = {"error": "internal_server_error", "detail": error.description}, 500
        await self._answer(send, answer, status)

    async def _answer(self, send: Send, answer: dict[str, Any], status: int) -> None:
        """Send what jsonify() would: the provider's JSON (compact unless debugging) and a newline."""
        provider = self.app.json
        compact = getattr(provider, "compact", None)
        pretty = (compact is None and self.app.debug) or compact is False
        if not pretty and getattr(provider, "sort_keys", False) and getattr(provider, "ensure_ascii", False):
            text = _COMPACT.encode(answer)  # the same bytes as provider.dumps, without building an encoder
        else:
            text = provider.dumps(answer, **({"indent": 2} if pretty else {"separators": (",", ":")}))
        body = f"{text}\n".encode()
        mimetype = str(getattr(provider, "mimetype", "application/json")).encode("latin-1")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", mimetype), (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes | None:
    """The request body (None if the client disconnected before sending all of it)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
