"""Run work once a response has been fully sent: Telnyx answers a command first, then emits its webhooks."""

from __future__ import annotations

import contextvars
from collections.abc import Callable

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, ASGISendEvent, Scope
from quart import Quart

__all__ = ["AfterResponseQuart", "after_response", "run_after_response_now"]

# The current request's pending callbacks. Quart handles a request in tasks that copy this context,
# so they all see (and append to) the same list object.
_pending: contextvars.ContextVar[list[Callable[[], None]]] = contextvars.ContextVar("after_response")


class AfterResponseQuart(Quart):
    """Quart that runs `after_response` callbacks once the last body chunk has been handed to the server."""

    async def asgi_app(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await super().asgi_app(scope, receive, send)
            return
        callbacks: list[Callable[[], None]] = []
        token = _pending.set(callbacks)

        async def send_then_run(message: ASGISendEvent) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                _run(callbacks)

        try:
            await super().asgi_app(scope, receive, send_then_run)
        finally:
            _pending.reset(token)
            _run(callbacks)  # a client that went away mid-request still gets what it caused


def after_response(callback: Callable[[], None]) -> None:
    """Run `callback` once the current request's response has been sent."""
    _pending.get().append(callback)


def run_after_response_now() -> None:
    """Run the current request's pending callbacks immediately (for a response that will be late)."""
    _run(_pending.get())


def _run(callbacks: list[Callable[[], None]]) -> None:
    while callbacks:
        callbacks.pop(0)()
