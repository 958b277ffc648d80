"""The measured fast paths that lean on other libraries' private internals fail here, loudly and by name, the
day an upgrade changes those internals (pyproject.toml pins the ranges they were tested with)."""

from __future__ import annotations

import asyncio
import inspect
import socket
import sqlite3
from typing import Any

import aiosqlite
import uvicorn

from survey_bot.serving.draining import DrainingServer
from survey_bot.serving.gc_tuning import GC_THRESHOLDS
from survey_bot.storage.sqlite_driver import FewHopsConnection


async def test_aiosqlite_still_has_the_internals_the_few_hops_connection_overrides() -> None:
    signature = inspect.signature(aiosqlite.Connection._execute)
    assert list(signature.parameters)[:2] == ["self", "fn"], f"aiosqlite.Connection._execute is now {signature}"
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    connection = await FewHopsConnection.opener(":memory:", check_same_thread=False)  # as SQLAlchemy opens it
    try:
        for name in ("_conn", "_connection", "_running", "_thread"):
            assert hasattr(connection, name), f"aiosqlite.Connection has no {name} any more"
        assert isinstance(connection._conn, sqlite3.Connection)
        cursor = await connection.execute("SELECT 41 + 1")  # runs in place, not on the thread
        assert await cursor.fetchone() == (42,)
        await connection.execute("CREATE TABLE t (x)")  # a statement that may wait: on aiosqlite's thread
    finally:
        await connection.close()


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_uvicorn_still_has_the_internals_the_draining_server_uses() -> None:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http="httptools", lifespan="on", log_config=None)
    config.load()
    server = DrainingServer(config)
    server.lifespan = config.lifespan_class(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    await server.startup(sockets=[sock])
    try:
        assert server.servers and all(hasattr(listener, "sockets") for listener in server.servers), "Server.servers"
        assert isinstance(server.lifespan.state, dict), "uvicorn's lifespan.state"
        protocol = server._new_protocol()  # builds uvicorn's protocol as DrainingServer does during a shutdown
        assert isinstance(protocol, asyncio.Protocol)
        assert hasattr(protocol, "cycle") and protocol.cycle is None, "a protocol's `cycle` before its first request"
        _reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a request begun, not finished
        await writer.drain()
        for _ in range(100):
            if server.server_state.connections:
                break
            await asyncio.sleep(0.01)
        assert server.server_state.connections, "uvicorn's server_state.connections"
        writer.close()
    finally:
        await server.shutdown(sockets=[sock])


def test_gc_thresholds_are_lazier_than_the_default() -> None:
    assert GC_THRESHOLDS[0] > 700


def test_phonenumbers_still_has_the_helper_the_contact_import_types_numbers_with() -> None:
    import phonenumbers
    from phonenumbers import phonenumberutil

    from survey_bot.campaigns.contacts import number_kind

    assert callable(getattr(phonenumberutil, "_number_type_helper", None)), "phonenumbers lost _number_type_helper"
    samples = ["+12125550143", "+14165550143", "+18765550143", "+18005550143", "+19005550143", "+12125550",
               "+442079460958", "+447700900123", "+441481712345", "+441534712345", "+441624712345", "+448001111111",
               "+33142685300", "+61291234567", "+79123456789", "+15555550100", "+1268460123", "+12684601234"]
    for text in samples:
        number = phonenumbers.parse(text)
        assert number_kind(number) == phonenumbers.number_type(number), text
