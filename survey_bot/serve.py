"""`survey-bot serve`: check everything up front, then run the app under uvicorn (or Hypercorn)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from typing import Any

import uvicorn

from .app import create_app
from .config import Settings
from .db import make_engine
from .migrate import ensure_at_head

__all__ = ["DrainingServer", "serve"]

log = logging.getLogger(__name__)
# How long a connection accepted before a graceful shutdown may take to begin its request.
FRESH_CONNECTION_GRACE = 1.0
# Collect young objects every 20,000 allocations instead of 700: a webhook allocates a few thousand objects
# (headers, JSON, SQL parameters) that reference counting frees, and at the default the cyclic collector ran
# several times a request, 11% of the server's CPU under load (bench/ingest.py).
GC_THRESHOLDS = (20_000, 20, 50)


def serve(*, host: str, port: int, workers: int, server: str) -> int:
    """Serve until interrupted; raise ConfigError/FormError/DatabaseNotReady before binding if misconfigured."""
    settings = Settings.load()
    create_app(settings=settings)  # refuses a missing key or a broken form with the reason
    asyncio.run(_check_database(settings.database_url))
    log.info("serving on http://%s:%d with %d worker(s) under %s", host, port, workers, server)
    _tune_gc()
    if server == "hypercorn":
        return _hypercorn(host, port, workers)
    options: dict[str, Any] = {
        "factory": True, "host": host, "port": port, "workers": workers, "loop": "uvloop", "http": "httptools",
        "lifespan": "on", "access_log": False, "timeout_graceful_shutdown": 10, "timeout_keep_alive": 30,
    }
    if workers > 1:  # uvicorn's worker processes build their own plain uvicorn.Server
        uvicorn.run("survey_bot.asgi:app_factory", **options)
        return 0
    single = DrainingServer(uvicorn.Config("survey_bot.asgi:app_factory", **options))
    single.run()
    return 0 if single.started else 3  # 3: uvicorn's exit code for a failed startup


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


def _tune_gc() -> None:
    """Collect less often, and never rescan what startup built (modules, forms): it lives as long as we do.

    Applies to this process, which serves when there is one worker (worker processes are spawned afresh).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _check_database(url: str) -> None:
    engine = make_engine(url)
    try:
        await ensure_at_head(engine, url)
    finally:
        await engine.dispose()


def _hypercorn(host: str, port: int, workers: int) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.application_path = "survey_bot.asgi:app_factory()"
    config.bind = [f"{host}:{port}"]
    # uvloop, as uvicorn gets; one worker serves in this process (hypercorn's workers=0) rather than in a
    # spawned child, like uvicorn does, so it shares this process's GC settings (bench/ingest.py compares them).
    config.worker_class = "uvloop"
    config.workers = 0 if workers == 1 else workers
    config.graceful_timeout = 10
    return int(run(config) or 0)
