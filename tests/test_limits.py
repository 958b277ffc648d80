"""Resource limits over a real socket: an oversized body is refused from its headers, a trickled body is cut off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from survey_bot.sandbox.stack import Stack, running_stack

FORMS = Path(__file__).resolve().parent.parent / "forms"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, {"forms_dir": FORMS, "body_timeout": 1.0,
                                            "max_body_bytes": 65_536}) as running:
        yield running


async def raw_request(stack: Stack, head: bytes, chunks: list[bytes], pause: float) -> bytes:
    host, port = stack.app_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head)
        await writer.drain()
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(pause)
        return await asyncio.wait_for(reader.read(4096), 10)
    except (ConnectionResetError, BrokenPipeError):
        return await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()


async def test_oversized_body_is_refused_from_its_content_length(stack: Stack) -> None:
    head = (b"POST /webhooks/telnyx HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n")
    answer = await raw_request(stack, head, [b"{" * 1000], pause=0)  # sends 1 kB of the announced 50 MB
    assert answer.startswith(b"HTTP/1.1 413")


async def test_chunked_body_past_the_limit_is_refused(stack: Stack) -> None:
    head = (b"POST /webhooks/telnyx HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"8000\r\n" + b" " * 0x8000 + b"\r\n"
    answer = await raw_request(stack, head, [chunk] * 4, pause=0.01)
    assert answer.startswith(b"HTTP/1.1 413")


async def test_trickled_body_is_cut_off_by_the_body_timeout(stack: Stack) -> None:
    head = (b"POST /webhooks/telnyx HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await raw_request(stack, head, [b" "] * 4, pause=0.6)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert loop.time() - started < 8
