"""A form compiled into Telnyx command arguments: `gather_using_ai` for the whole form, `gather_using_speak`
for one field on the keypad. The caller adds ids and client_state."""

from __future__ import annotations

import copy
from typing import Any

from survey_bot.forms.keypad import valid_digits
from survey_bot.forms.model import Field, Form
from survey_bot.forms.phrases import INVALID_PAYLOAD, speak_payload
from survey_bot.forms.schema_walk import inline, map_subschemas

__all__ = ["ai_gather_arguments", "speak_gather_arguments"]

AI_KEYS = ("greeting", "voice", "language", "gather_ended_speech", "user_response_timeout_ms", "assistant")


def _strip(schema: Any, _pointer: str = "") -> Any:
    """Drop x- keys and $-keywords at schema positions (a property named `x-ray` stays)."""
    if not isinstance(schema, dict):
        return schema
    kept = {k: v for k, v in schema.items() if not k.startswith(("x-", "$"))}
    return map_subschemas(kept, _strip, _pointer)


def ai_gather_arguments(form: Form) -> dict[str, Any]:
    """Return keyword arguments for `calls.actions.gather_using_ai` (the caller adds ids and state)."""
    parameters = _strip(inline(form.document, copy.deepcopy(dict(form.document))))
    arguments: dict[str, Any] = {
        "parameters": parameters,
        "send_partial_results": True,
        "send_message_history_updates": True,
    }
    arguments.update({k: copy.deepcopy(form.voice[k]) for k in AI_KEYS if k in form.voice})
    return arguments


def speak_gather_arguments(form: Form, field: Field, *, intro: bool = False) -> dict[str, Any]:
    """Return keyword arguments for `calls.actions.gather_using_speak` asking one field on the keypad."""
    keypad = field.keypad
    if keypad is None:
        raise ValueError(f"field {field.name!r} has no keypad fallback")
    arguments: dict[str, Any] = {
        "payload": speak_payload(keypad, field.schema, field.prompt, form.dtmf["intro"] if intro else None),
        "voice": form.dtmf["voice"],
        "language": form.dtmf["language"],
        "valid_digits": valid_digits(keypad, field.schema),
        "minimum_digits": keypad.min_digits,
        "maximum_digits": keypad.max_digits,
        "maximum_tries": form.dtmf["maximum_tries"],
        "invalid_payload": INVALID_PAYLOAD,
        "timeout_millis": form.dtmf["timeout_millis"],
    }
    if keypad.terminator:
        arguments["terminating_digit"] = keypad.terminator
    if "service_level" in form.dtmf:
        arguments["service_level"] = form.dtmf["service_level"]
    return arguments
