"""Telnyx webhook envelopes parsed into plain Event values; client_state encoded and decoded.

Dispatch happens on the raw `data.event_type` string: the SDK's union parser silently turns unknown
events into an unrelated type, so it is not used to route.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from survey_bot import json_codec
from survey_bot.errors import PayloadError
from survey_bot.flow.events import Event

__all__ = ["Event", "decode_client_state", "encode_client_state", "parse_event"]


def parse_event(raw: str) -> Event:
    """Parse a verified webhook body; raise PayloadError saying what is wrong with it."""
    try:
        body = json_codec.loads(raw)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise PayloadError("body has no `data` object (not a Telnyx event envelope)")
    event_id, event_type = data.get("id"), data.get("event_type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        raise PayloadError("`data.id` must be a non-empty string of at most 100 characters")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise PayloadError(f"event {event_id}: `data.event_type` must be a non-empty string")
    payload = data.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise PayloadError(f"event {event_id}: `data.payload` must be an object")
    return Event(
        id=event_id,
        event_type=event_type,
        occurred_at=_parse_time(data.get("occurred_at")),
        payload=payload,
        raw=raw,
        client_state=decode_client_state(payload.get("client_state")),
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def encode_client_state(state: Mapping[str, Any]) -> str:
    """Encode our per-command state as Telnyx wants it: base64 of compact JSON."""
    return base64.b64encode(json.dumps(dict(state), separators=(",", ":")).encode()).decode()


def decode_client_state(value: Any) -> dict[str, Any]:
    """Decode a client_state we set; anything else (absent, foreign, corrupt) decodes to {}."""
    if not isinstance(value, str) or not value:
        return {}
    try:
        decoded = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}
