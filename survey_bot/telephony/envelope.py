"""Telnyx webhook envelopes parsed into plain Event values; client_state encoded and decoded.

Dispatch happens on the raw `data.event_type` string: the SDK's union parser silently turns unknown
events into an unrelated type, so it is not used to route.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from survey_bot import json_codec
from survey_bot.errors import PayloadError
from survey_bot.flow.events import Event
from survey_bot.json_codec import MAX_DEPTH

__all__ = ["MAX_CALL_CONTROL_ID", "MAX_DEPTH", "decode_client_state", "encode_client_state", "parse_event"]


MAX_CALL_CONTROL_ID = 500  # Telnyx's are about 100 characters; the id is indexed and used as an address


def parse_event(raw: str) -> Event:
    """Parse a verified webhook body; raise PayloadError saying what is wrong with it.

    Values no database can hold are cleaned here, the same on SQLite and PostgreSQL (so an export does not
    depend on where it was stored): a NUL character in a string becomes U+FFFD, NaN and infinities become
    null, and occurred_at is taken to UTC (a time no database can hold is dropped, as a malformed one is).
    A body nested deeper than MAX_DEPTH anywhere, or holding an integer Python will not convert, is refused.
    """
    try:
        body = json_codec.loads_bounded(raw, MAX_DEPTH)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except json_codec.JsonLimitError as exc:
        raise PayloadError(f"body: {exc}") from exc
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise PayloadError("body has no `data` object (not a Telnyx event envelope)")
    event_id, event_type = data.get("id"), data.get("event_type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        raise PayloadError("`data.id` must be a non-empty string of at most 100 characters")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise PayloadError(f"event {event_id}: `data.event_type` must be a non-empty string")
    if "\\u0000" in raw or "NaN" in raw or "Infinity" in raw:
        data = _clean(data)
    payload = data.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise PayloadError(f"event {event_id}: `data.payload` must be an object")
    call_control_id = payload.get("call_control_id")
    if isinstance(call_control_id, str) and len(call_control_id) > MAX_CALL_CONTROL_ID:
        raise PayloadError(f"event {event_id}: `call_control_id` is longer than {MAX_CALL_CONTROL_ID} characters")
    return Event(
        id=event_id,
        event_type=event_type,
        occurred_at=_parse_time(data.get("occurred_at")),
        payload=payload,
        raw=raw,
        client_state=decode_client_state(payload.get("client_state")),
    )


def _clean(value: Any) -> Any:
    """`value` with NUL characters replaced by U+FFFD and NaN or infinities by None, at every depth."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else None
    except (ValueError, OverflowError):
        return None


def encode_client_state(state: Mapping[str, Any]) -> str:
    """Encode our per-command state as Telnyx wants it: base64 of compact JSON."""
    return base64.b64encode(json.dumps(dict(state), separators=(",", ":")).encode()).decode()


def decode_client_state(value: Any) -> dict[str, Any]:
    """Decode a client_state we set; anything else (absent, foreign, corrupt) decodes to {}.

    A response id (`r`) that is not one of ours in shape (a string of at most 36 characters) is dropped. Ours
    is flat, so one nested past MAX_DEPTH (which json would meet with a RecursionError) is foreign too.
    """
    if not isinstance(value, str) or not value:
        return {}
    try:
        decoded = json_codec.loads_bounded(base64.b64decode(value, validate=True).decode("utf-8"), MAX_DEPTH)
    except (binascii.Error, ValueError):  # JSONDecodeError, JsonLimitError and UnicodeDecodeError among them
        return {}
    if not isinstance(decoded, dict):
        return {}
    if "r" in decoded and not (isinstance(decoded["r"], str) and 0 < len(decoded["r"]) <= 36):
        del decoded["r"]
    return decoded
