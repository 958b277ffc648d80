"""Run an ASGI app under uvicorn inside the current event loop, for tests, the demo and the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from survey_bot.serving.protocol import BoundedHttpToolsProtocol

__all__ = ["ServerStartupError", "serve_asgi"]


class ServerStartupError(RuntimeError):
    """The app's lifespan startup failed, so the server never accepted a connection."""


def _bind(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket ourselves, so port 0 yields a free port we can read back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says TCP, and without
    # it every response (headers and body written separately) waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serve_asgi(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    graceful_timeout_s: int = 5,
    log_level: str = "warning",
    http: type[asyncio.Protocol] = BoundedHttpToolsProtocol,
) -> AsyncIterator[str]:
    """Serve `app` on host:port until the block exits; yield its base URL, e.g. "http://127.0.0.1:51234".

    Lifespan runs (startup before the yield, shutdown after). Exiting stops accepting connections,
    lets in-flight requests finish for up to `graceful_timeout_s` seconds, then awaits the shutdown.
    """
    config = uvicorn.Config(
        app,
        http=http,
        ws="none",
        proxy_headers=False,  # survey-bot reads X-Forwarded-For itself, from trusted proxies only
        lifespan="on",
        log_config=None,  # leave the process's logging alone (pytest, the CLI)
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=graceful_timeout_s,
    )
    config.load()
    server = uvicorn.Server(config)
    # Server.serve() would install process-wide signal handlers and sys.exit() on a failed startup;
    # driving startup/main_loop/shutdown ourselves keeps both out of the caller's event loop.
    server.lifespan = config.lifespan_class(config)
    sock = _bind(host, port)
    try:
        try:
            await server.startup(sockets=[sock])
        except SystemExit as exc:
            raise ServerStartupError(f"ASGI app {app!r} failed its lifespan startup") from exc
        main_loop = asyncio.create_task(server.main_loop(), name=f"uvicorn main loop {_base_url(sock)}")
        try:
            yield _base_url(sock)
        finally:
            # main_loop only ticks the Date header every 0.1 s; cancelling it saves that wait.
            server.should_exit = True
            main_loop.cancel()
            await asyncio.wait([main_loop])
            await server.shutdown(sockets=[sock])
    finally:
        sock.close()
