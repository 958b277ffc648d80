"""A contact list uploaded to the API, streamed to a temporary file as it arrives (the CSV as the body, or the
`contacts` part of a multipart form), bounded by SURVEY_BOT_MAX_UPLOAD_BYTES, so a 50 MiB list never sits in memory.

Why the upload routes get their own request class: Quart gives every request's body MAX_CONTENT_LENGTH (the
webhook-sized SURVEY_BOT_MAX_BODY_BYTES) from its first byte, before the view runs. Raising the bound in the view
came too late: bytes that arrived before it were dropped, or the body was already marked complete, and a
50,000-row list was imported cut short with a 201. `upload_request_class` gives the upload routes
SURVEY_BOT_MAX_UPLOAD_BYTES from the start; past it the body raises, and the route answers 413.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

from quart import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

__all__ = ["PART", "UPLOAD_ROUTES", "UploadError", "receive_upload", "upload_request_class"]

PART = "contacts"  # the multipart part holding the list
SPOOL = 1 << 20  # bytes kept in memory before the temporary file goes to disk
UPLOAD_ROUTES = frozenset({("POST", "/api/campaigns")})  # (method, path) of the routes that take a list


def upload_request_class(limit: int, routes: frozenset[tuple[str, str]] = UPLOAD_ROUTES) -> type[Request]:
    """A request class whose body is bounded by `limit` on the upload `routes` (others keep the app's bound)."""

    class UploadRequest(Request):
        def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
            if (method, path.rstrip("/")) in routes:
                kwargs["max_content_length"] = limit
            super().__init__(method, scheme, path, *args, **kwargs)

    return UploadRequest


class UploadError(Exception):
    """The upload cannot be used: `status` (400, 413, 415) and a one-line reason."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


async def receive_upload(request: Request, limit: int) -> IO[bytes]:
    """The uploaded list in a temporary file (rewound; closing deletes it); UploadError if it cannot be."""
    kind, options = parse_options_header(request.headers.get("Content-Type", ""))
    if kind not in ("text/csv", "text/plain", "application/octet-stream", "multipart/form-data"):
        raise UploadError(415, "unsupported_media_type", "send the list as text/csv, or as the `contacts` part of "
                                                         "multipart/form-data")
    too_large = UploadError(413, "request_entity_too_large", f"the list is over SURVEY_BOT_MAX_UPLOAD_BYTES "
                                                             f"({limit} bytes)")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    body = request.body
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 (returned to the caller, who closes it)
    boundary = options.get("boundary", "")
    if kind == "multipart/form-data" and not boundary:
        raise UploadError(400, "invalid_request", "multipart/form-data without a boundary")
    parts = _Parts(MultipartDecoder(boundary.encode()), out) if boundary and kind == "multipart/form-data" else None
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > limit:
                raise too_large
            if parts is None:
                out.write(chunk)
            else:
                parts.feed(chunk)
        if parts is not None:
            parts.feed(None)
            if not parts.seen:
                raise UploadError(400, "invalid_request", f"multipart body: no `{PART}` file part")
    except RequestEntityTooLarge:
        out.close()
        raise too_large from None
    except ValueError as exc:  # the multipart decoder's own complaints
        out.close()
        raise UploadError(400, "invalid_request", f"multipart body: {exc}") from None
    except UploadError:
        out.close()
        raise
    out.seek(0)
    return out


class _Parts:
    """Feeds a multipart body to werkzeug's incremental decoder and writes the `contacts` part's bytes."""

    def __init__(self, decoder: MultipartDecoder, out: IO[bytes]) -> None:
        self.decoder, self.out = decoder, out
        self.current: str | None = None
        self.seen = False

    def feed(self, data: bytes | None) -> None:
        self.decoder.receive_data(data)
        while True:
            event = self.decoder.next_event()
            if isinstance(event, NeedData | Epilogue):
                return
            if isinstance(event, File | Field):
                self.current = event.name if isinstance(event, File) else None
                self.seen = self.seen or self.current == PART
            elif isinstance(event, Data) and self.current == PART:
                self.out.write(event.data)
