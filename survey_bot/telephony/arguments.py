"""Flow commands as Telnyx requests: a form compiled into `gather_using_ai` arguments for the whole form,
`gather_using_speak` (or, for a recorded question, `gather_using_audio`) arguments for one field on the keypad,
`playback_start` for recorded words, and each Command's context as client_state. The opening texts (the AI's
greeting, the disclosure, the keypad intro) get a campaign contact's values for their placeholders from the
command's details (flow.steps.contact_details); without any, their placeholders are dropped."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from survey_bot.flow.opening import Amd
from survey_bot.flow.state import Command
from survey_bot.flow.steps import CONTACT
from survey_bot.forms.keypad import valid_digits
from survey_bot.forms.model import Field, Form
from survey_bot.forms.opt_out import READ_BACK_KEYS
from survey_bot.forms.phrases import read_back, reask_greeting, retry_payload, speak_payload
from survey_bot.forms.voice_schema import reask_parameters, voice_parameters
from survey_bot.telephony.envelope import encode_client_state

__all__ = ["ai_gather_arguments", "audio_gather_arguments", "confirm_arguments", "dial_arguments",
           "disclosure_arguments", "speak_gather_arguments", "telnyx_request"]

AI_KEYS = ("greeting", "voice", "language", "gather_ended_speech", "user_response_timeout_ms", "assistant",
           "transcription")


DISCLOSURE_WAIT_MILLIS = 2000  # after the disclosure, how long the opt-out key is waited for
MAX_HISTORY = 100  # transcript turns a re-ask carries (a survey call has a few dozen)
MAX_TURN = 4000  # characters of one turn


def ai_gather_arguments(form: Form, reask: Mapping[str, Any] | None = None,
                        values: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return keyword arguments for `calls.actions.gather_using_ai` (the caller adds ids and state): the whole
    form, greeting the contact with its `values`, or for a re-ask (`reask`: the command's details) only the fields
    still wanted, seeded with the transcript so far and opening with a short apology naming what was missed."""
    arguments: dict[str, Any] = {"send_partial_results": True, "send_message_history_updates": True}
    arguments.update({k: copy.deepcopy(form.voice[k]) for k in AI_KEYS if k in form.voice})
    if reask is None:
        if "greeting" in form.voice:
            arguments["greeting"] = form.greeting(values)
        return {"parameters": voice_parameters(form), **arguments}
    names = [str(name) for name in reask.get("fields", ())]
    arguments["parameters"] = reask_parameters(form, names, [str(n) for n in reask.get("required", ())])
    arguments["greeting"] = reask_greeting([form.field(name).title for name in names], form.phrases)
    arguments["message_history"] = _history(reask.get("history"))
    return arguments


def _history(turns: Any) -> list[dict[str, str]]:
    """The stored transcript as Telnyx takes it: {role: assistant|user, content} only, the newest turns."""
    kept = [{"role": t["role"], "content": t["content"][:MAX_TURN]} for t in turns if isinstance(t, dict)
            and t.get("role") in ("assistant", "user") and isinstance(t.get("content"), str)] \
        if isinstance(turns, list) else []
    return kept[-MAX_HISTORY:]


def speak_gather_arguments(form: Form, field: Field, *, intro: bool = False, declinable: bool = False,
                           values: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return keyword arguments for `calls.actions.gather_using_speak` asking one field on the keypad (after the
    intro, its placeholders filled from `values`, when `intro`); a declinable field also takes the decline key as
    the whole entry."""
    keypad = field.keypad
    if keypad is None:
        raise ValueError(f"field {field.name!r} has no keypad fallback")
    opening = form.keypad_opening(values) if intro else None
    payload = speak_payload(keypad, field.schema, field.prompt, opening, form.phrases)
    return {**_keypad_prompt(form, payload, "", 0, 0), **_digit_settings(form, field, declinable)}


def audio_gather_arguments(form: Form, field: Field, *, declinable: bool = False) -> dict[str, Any]:
    """Return keyword arguments for `calls.actions.gather_using_audio` asking a recorded field: its recording
    (and the one for keys that do not fit) with the same digit settings as the spoken question."""
    if field.audio is None:
        raise ValueError(f"field {field.name!r} has no recording")
    arguments: dict[str, Any] = {"audio_url": field.audio.prompt}
    if field.audio.invalid:
        arguments["invalid_audio_url"] = field.audio.invalid
    arguments.update(_digit_settings(form, field, declinable))
    arguments.update(maximum_tries=form.dtmf["maximum_tries"], timeout_millis=form.dtmf["timeout_millis"])
    return arguments


def _digit_settings(form: Form, field: Field, declinable: bool) -> dict[str, Any]:
    """The keys a keypad question takes, spoken or recorded alike: a declinable field also takes the decline
    key as the whole entry."""
    keypad = field.keypad
    if keypad is None:
        raise ValueError(f"field {field.name!r} has no keypad fallback")
    key = str(form.dtmf.get("decline_key") or "")
    digits = valid_digits(keypad, field.schema) + (form.opt_out_key or "" if form.listens_for_opt_out(field) else "")
    declining = declinable and bool(key)
    settings: dict[str, Any] = {"valid_digits": digits + key if declining and key not in digits else digits,
                                "minimum_digits": 1 if declining else keypad.min_digits,
                                "maximum_digits": keypad.max_digits}
    if keypad.terminator:
        settings["terminating_digit"] = keypad.terminator
    return settings


def confirm_arguments(form: Form, field: Field, value: Any) -> dict[str, Any]:
    """Return `gather_using_speak` arguments reading a keypad answer back for a 1 (right) or a 2 (again)."""
    if field.keypad is None:
        raise ValueError(f"field {field.name!r} has no keypad fallback")
    payload = read_back(value, field.keypad, field.schema, form.phrases)
    return _keypad_prompt(form, payload, READ_BACK_KEYS + (form.opt_out_key or ""), 1, 1)


def disclosure_arguments(form: Form, values: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return `gather_using_speak` arguments saying the form's disclosure (its placeholders filled from `values`,
    with how to opt out) while listening for the opt-out key only; silence or another key goes on to the survey,
    after a short wait."""
    arguments = _keypad_prompt(form, form.disclosure_words(values), form.opt_out_key or "", 1, 1)
    arguments.update(maximum_tries=1, timeout_millis=DISCLOSURE_WAIT_MILLIS)
    if not form.opt_out_key:
        arguments.pop("valid_digits")
    return arguments


def dial_arguments(connection_id: str, from_number: str, to: str, *, amd: Amd | None = None,
                   client_state: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the body of `calls.dial` (wire names): with answering machine detection when `amd` is given, and
    `client_state` (what every webhook of the call carries back: the response, a campaign's contact and attempt)."""
    arguments: dict[str, Any] = {"connection_id": connection_id, "from": from_number, "to": to}
    if amd is not None:
        arguments["answering_machine_detection"] = amd.mode
    if client_state:
        arguments["client_state"] = encode_client_state(dict(client_state))
    return arguments


def _keypad_prompt(form: Form, payload: str, digits: str, low: int, high: int) -> dict[str, Any]:
    """The `gather_using_speak` arguments every keypad prompt shares, in the form's keypad voice."""
    arguments: dict[str, Any] = {
        "payload": payload,
        "voice": form.dtmf["voice"],
        "language": form.dtmf["language"],
        "valid_digits": digits,
        "minimum_digits": low,
        "maximum_digits": high,
        "maximum_tries": form.dtmf["maximum_tries"],
        "invalid_payload": form.phrases.text("keypad.invalid"),
        "timeout_millis": form.dtmf["timeout_millis"],
    }
    if "service_level" in form.dtmf:
        arguments["service_level"] = form.dtmf["service_level"]
    return arguments


def telnyx_request(command: Command, form: Form | None) -> tuple[str, dict[str, Any]]:
    """The Telnyx action and its arguments for a flow Command; its context travels as client_state.

    `form` is the response's form as its locale speaks it (Form.for_locale; None only for commands that need
    none: answer, reject, hangup, dial).
    """
    client_state = {"client_state": encode_client_state(command.context)} if command.context else {}
    details = command.details
    values = details.get(CONTACT) or {}
    if command.action in ("answer", "hangup"):
        return command.action, client_state
    if command.action == "reject":
        return "reject", {"cause": _REJECT_CAUSES[details.get("cause", "rejected")]}
    if command.action == "dial":
        amd = Amd(mode=str(details["amd"])) if details.get("amd") else None
        return "dial", dial_arguments(details["connection_id"], details["from"], details["to"], amd=amd,
                                      client_state=command.context)
    if form is None:
        raise ValueError(f"{command.action}: a form is needed to build its arguments")
    if command.action == "ask_ai":
        return "gather_using_ai", {**ai_gather_arguments(form, details if details.get("fields") else None, values),
                                   **client_state}
    if command.action == "disclose":
        return "gather_using_speak", {**disclosure_arguments(form, values), **client_state}
    if command.action == "confirm":
        field = form.field(details["field"])
        return "gather_using_speak", {**confirm_arguments(form, field, details.get("value")), **client_state}
    if command.action == "ask_keypad" and form.field(details["field"]).audio is not None:
        return "gather_using_audio", {**audio_gather_arguments(form, form.field(details["field"]),
                                                               declinable=bool(details.get("declinable"))),
                                      **client_state}
    if command.action == "play":
        return "playback_start", {"audio_url": form.audio[str(details["audio"])], **client_state}
    if command.action == "ask_keypad":
        arguments = speak_gather_arguments(form, form.field(details["field"]), intro=bool(details.get("intro")),
                                           declinable=bool(details.get("declinable")), values=values)
        if details.get("retry"):
            arguments["payload"] = retry_payload(str(details["retry"]), arguments["payload"], form.phrases)
        return "gather_using_speak", {**arguments, **client_state}
    if command.action == "ask_language":  # the language menu's last sentence, in its own locale's voice
        view = form.for_locale(str(details["locale"]))
        digits = str(details["digits"])
        return "gather_using_speak", {**_keypad_prompt(view, str(details["text"]), digits, 1, 1), **client_state}
    if command.action == "speak":  # in the call's voice, or in the locale the details name (the language menu)
        view = form.for_locale(str(details["locale"])) if details.get("locale") else form
        speak = {"payload": str(details["text"]), "voice": str(view.dtmf["voice"]),
                 "language": str(view.dtmf["language"]), **client_state}
        if view.dtmf.get("service_level"):
            speak["service_level"] = str(view.dtmf["service_level"])
        return "speak", speak
    raise ValueError(f"unknown command action {command.action!r}")


_REJECT_CAUSES = {"rejected": "CALL_REJECTED", "busy": "USER_BUSY"}
