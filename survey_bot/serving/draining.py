"""uvicorn's Server with a graceful shutdown that serves every request a client had already sent.

A measured fix that overrides uvicorn internals (`Server.servers`, `server_state.connections`, the protocol's
`cycle`, `config.http_protocol_class`, `lifespan.state`): uvicorn is pinned in pyproject.toml, and
tests/test_fast_paths.py fails loudly when those internals change shape.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import uvicorn

__all__ = ["FRESH_CONNECTION_GRACE", "DrainingServer"]

# How long a connection accepted before a graceful shutdown may take to begin its request.
FRESH_CONNECTION_GRACE = 1.0


class DrainingServer(uvicorn.Server):
    """uvicorn's Server, except that a graceful shutdown serves every request a client had already sent.

    uvicorn closes the listener (resetting connections the kernel had completed but the loop had not yet
    accepted) and at once closes every connection that has not begun a request. Under load the loop accepts
    a connection a little before it reads its first bytes, so webhooks already sent were reset (measured: up
    to 16 of 16 in-flight connections on one SIGTERM). Here the waiting connections are accepted before the
    listener closes (from then on new ones are refused), connections without a request yet get a moment to
    begin one, then uvicorn's own shutdown runs: those requests finish and are answered.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        waiting = [connection for listener in self.servers for connection in _accept_waiting(listener)]
        for listener in self.servers:
            listener.close()
        for sock in sockets or []:
            sock.close()
        await asyncio.gather(*(loop.connect_accepted_socket(self._new_protocol, c) for c in waiting),
                             return_exceptions=True)
        deadline = loop.time() + FRESH_CONNECTION_GRACE
        while loop.time() < deadline and any(  # noqa: ASYNC110 - uvicorn has no event for "a request began"
                getattr(connection, "cycle", False) is None for connection in self.server_state.connections):
            await asyncio.sleep(0.01)
        await super().shutdown()

    def _new_protocol(self) -> asyncio.Protocol:
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state)
        return protocol


def _accept_waiting(listener: Any) -> list[socket.socket]:
    """Accept what the kernel queued on a listener but the loop has not taken yet (closing would reset it)."""
    accepted: list[socket.socket] = []
    for pseudo in listener.sockets or ():
        with socket.socket(fileno=os.dup(pseudo.fileno())) as sock:
            sock.setblocking(False)
            while True:
                try:
                    connection, _address = sock.accept()
                except OSError:  # BlockingIOError: nothing left waiting
                    break
                connection.setblocking(False)
                accepted.append(connection)
    return accepted
