"""Flow commands as Telnyx requests: a form compiled into `gather_using_ai` arguments for the whole form and
`gather_using_speak` arguments for one field on the keypad, and each Command's context as client_state."""

from __future__ import annotations

import copy
from typing import Any

from survey_bot.flow.state import Command
from survey_bot.forms.keypad import valid_digits
from survey_bot.forms.model import Field, Form
from survey_bot.forms.phrases import INVALID_PAYLOAD, retry_payload, speak_payload
from survey_bot.forms.schema_walk import inline, map_subschemas
from survey_bot.telephony.envelope import encode_client_state

__all__ = ["ai_gather_arguments", "speak_gather_arguments", "telnyx_request"]

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


def telnyx_request(command: Command, form: Form | None) -> tuple[str, dict[str, Any]]:
    """The Telnyx action and its arguments for a flow Command; its context travels as client_state.

    `form` is the response's form (None only for commands that need none: answer, reject, hangup, dial).
    """
    client_state = {"client_state": encode_client_state(command.context)} if command.context else {}
    details = command.details
    if command.action in ("answer", "hangup"):
        return command.action, client_state
    if command.action == "reject":
        return "reject", {"cause": _REJECT_CAUSES[details.get("cause", "rejected")]}
    if command.action == "dial":
        return "dial", {"connection_id": details["connection_id"], "from": details["from"], "to": details["to"],
                        **client_state}
    if form is None:
        raise ValueError(f"{command.action}: a form is needed to build its arguments")
    if command.action == "ask_ai":
        return "gather_using_ai", {**ai_gather_arguments(form), **client_state}
    if command.action == "ask_keypad":
        arguments = speak_gather_arguments(form, form.field(details["field"]), intro=bool(details.get("intro")))
        if details.get("retry"):
            arguments["payload"] = retry_payload(str(details["retry"]), arguments["payload"])
        return "gather_using_speak", {**arguments, **client_state}
    if command.action == "speak":
        speak = {"payload": str(details["text"]), "voice": str(form.dtmf["voice"]),
                 "language": str(form.dtmf["language"]), **client_state}
        if form.dtmf.get("service_level"):
            speak["service_level"] = str(form.dtmf["service_level"])
        return "speak", speak
    raise ValueError(f"unknown command action {command.action!r}")


_REJECT_CAUSES = {"rejected": "CALL_REJECTED", "busy": "USER_BUSY"}
