"""serve_asgi: a real uvicorn server inside the test's event loop, on a free port, shut down gracefully."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from quart import Quart

from survey_bot.serving.embedded import ServerStartupError, serve_asgi
from survey_bot.serving.protocol import BoundedHttpToolsProtocol


def make_app(log: list[str]) -> Quart:
    app = Quart(__name__)

    @app.before_serving
    async def startup() -> None:
        log.append("startup")

    @app.after_serving
    async def shutdown() -> None:
        log.append("shutdown")

    @app.get("/slow")
    async def slow() -> str:
        await asyncio.sleep(0.3)
        log.append("slow done")
        return "done"

    @app.get("/")
    async def index() -> str:
        return "hello"

    return app


async def test_serves_on_a_free_port_with_lifespan() -> None:
    log: list[str] = []
    async with serve_asgi(make_app(log)) as url:
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert log == ["startup"]
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/")).text == "hello"
    assert log == ["startup", "shutdown"]


async def test_two_servers_get_two_ports() -> None:
    async with serve_asgi(make_app([])) as first, serve_asgi(make_app([])) as second:
        assert first != second


async def test_exit_lets_an_in_flight_request_finish() -> None:
    log: list[str] = []
    async with httpx.AsyncClient() as client:
        async with serve_asgi(make_app(log)) as url:
            pending = asyncio.create_task(client.get(f"{url}/slow"))
            await asyncio.sleep(0.1)
        assert (await pending).text == "done"
    assert log == ["startup", "slow done", "shutdown"]


async def test_a_failed_startup_raises() -> None:
    app = Quart(__name__)

    @app.before_serving
    async def broken() -> None:
        raise RuntimeError("no database")

    with pytest.raises(ServerStartupError):
        async with serve_asgi(app):
            pass


class QuickHeaders(BoundedHttpToolsProtocol):
    """The served protocol with a header deadline short enough for a test (the real one is 10 s)."""

    header_seconds = 0.5


async def _exchange(url: str, data: bytes, wait: float) -> tuple[bytes, float]:
    """Send raw bytes, read until the server closes or `wait` passes: (what came back, seconds taken)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    loop = asyncio.get_running_loop()
    started = loop.time()
    writer.write(data)
    await writer.drain()
    try:
        received = await asyncio.wait_for(reader.read(), wait)
    except TimeoutError:
        received = b"(still open)"
    writer.close()
    return received, loop.time() - started


async def test_a_request_whose_headers_trickle_is_cut_off() -> None:
    async with serve_asgi(make_app([]), http=QuickHeaders) as url:
        received, took = await _exchange(url, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", wait=5)
        assert received == b"" and took < 3  # closed by the server, not by the test's patience
        async with httpx.AsyncClient(base_url=url) as client:  # a normal request is not affected
            assert (await client.get("/")).text == "hello"


async def test_headers_over_64_kib_get_431() -> None:
    async with serve_asgi(make_app([])) as url:
        flood = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n"
        received, _took = await _exchange(url, flood, wait=5)
        assert received.startswith(b"HTTP/1.1 431 ")
