"""uvicorn's HTTP protocol with the two bounds it lacks: a time limit and a size limit on reading a request's
headers.

uvicorn times out idle keep-alive connections but not a connection that sends half a request line and then
trickles (slowloris), and httptools buffers header bytes without a cap. Both would let a handful of sockets
hold a worker's memory and file descriptors. The body is bounded elsewhere (intake's size and time limits,
Quart's MAX_CONTENT_LENGTH and BODY_TIMEOUT).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HEADER_BYTES", "HEADER_SECONDS", "BoundedHttpToolsProtocol"]

HEADER_SECONDS = 10.0  # from a connection's (or a keep-alive request's) first byte to the end of its headers
HEADER_BYTES = 65_536  # request line and headers together


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Close a connection whose headers take too long; answer 431 to headers that are too large."""

    header_seconds = HEADER_SECONDS
    header_bytes = HEADER_BYTES
    _header_timer: asyncio.TimerHandle | None = None
    _header_bytes = 0
    _in_headers = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_headers()

    def _start_headers(self) -> None:
        self._stop_headers()
        self._in_headers, self._header_bytes = True, 0
        self._header_timer = self.loop.call_later(self.header_seconds, self._headers_too_slow)

    def _stop_headers(self) -> None:
        self._in_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._in_headers and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        """Count the bytes up to the end of the headers (a body in the same read is the body limits' business),
        then parse."""
        if self._in_headers:
            end = data.find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else end + 4
            if self._header_bytes > self.header_bytes:
                self._stop_headers()
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                                     b"connection: close\r\n\r\n")
                self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        """A keep-alive connection's next request starts: its headers are timed too."""
        super().on_message_begin()
        if not self._in_headers:
            self._start_headers()

    def on_headers_complete(self) -> None:
        """The headers are in: the time and size limits end here."""
        self._stop_headers()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Cancel the timer with the connection."""
        self._stop_headers()
        super().connection_lost(exc)
