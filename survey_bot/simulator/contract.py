"""Check command bodies against the SDK's own request types and shape errors the way Telnyx does."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import TypeAdapter, ValidationError
from telnyx.types.call_dial_params import CallDialParams
from telnyx.types.calls.action_answer_params import ActionAnswerParams
from telnyx.types.calls.action_gather_params import ActionGatherParams
from telnyx.types.calls.action_gather_using_ai_params import ActionGatherUsingAIParams
from telnyx.types.calls.action_gather_using_audio_params import ActionGatherUsingAudioParams
from telnyx.types.calls.action_gather_using_speak_params import ActionGatherUsingSpeakParams
from telnyx.types.calls.action_hangup_params import ActionHangupParams
from telnyx.types.calls.action_reject_params import ActionRejectParams
from telnyx.types.calls.action_speak_params import ActionSpeakParams
from telnyx.types.calls.action_start_playback_params import ActionStartPlaybackParams
from telnyx.types.calls.action_stop_gather_params import ActionStopGatherParams
from telnyx.types.calls.action_update_client_state_params import ActionUpdateClientStateParams

__all__ = ["ACTIONS", "ApiError", "check_authorization", "check_route", "parse_body", "validate_request"]

# Operation name (the last path segment; "dial" for POST /calls) -> the SDK's TypedDict for its body.
_PARAMS: dict[str, Any] = {
    "dial": CallDialParams,
    "answer": ActionAnswerParams,
    "reject": ActionRejectParams,
    "hangup": ActionHangupParams,
    "speak": ActionSpeakParams,
    "gather": ActionGatherParams,
    "gather_stop": ActionStopGatherParams,
    "gather_using_ai": ActionGatherUsingAIParams,
    "gather_using_speak": ActionGatherUsingSpeakParams,
    "gather_using_audio": ActionGatherUsingAudioParams,
    "playback_start": ActionStartPlaybackParams,
    "client_state_update": ActionUpdateClientStateParams,
}
ACTIONS = frozenset(_PARAMS) - {"dial"}

# Python-side names of fields whose wire name is a keyword (dial's `from_` is "from" on the wire).
_WIRE_TO_PY = {"from": "from_"}
_PY_TO_WIRE = {py: wire for wire, py in _WIRE_TO_PY.items()}

# Codes Telnyx documents (90xxx from the spec's UnprocessableEntityResponse, 10007 from its
# InternalServerErrorResponse); the others are guesses, since no example was found.
_STATUS_DEFAULTS: dict[int, tuple[str, str]] = {
    401: ("10009", "Authentication failed"),
    404: ("10005", "Resource not found"),
    422: ("10015", "Invalid parameter"),
    429: ("10011", "Too many requests"),
    500: ("10007", "Internal server error"),
    503: ("10008", "Service unavailable"),
}


class ApiError(Exception):
    """A Telnyx-shaped error answer: `{"errors": [{code, title, detail, source?}]}` with a status."""

    def __init__(self, status: int, errors: list[dict[str, Any]], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {errors[0]['title']}")
        self.status = status
        self.errors = errors
        self.headers = dict(headers or {})

    @property
    def body(self) -> dict[str, Any]:
        """Return the JSON body of the answer."""
        return {"errors": self.errors}

    @classmethod
    def single(
        cls,
        status: int,
        code: str | None = None,
        detail: str | None = None,
        *,
        title: str | None = None,
        pointer: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiError:
        """Build an error with one entry, defaulting code and title from the status."""
        default_code, default_title = _STATUS_DEFAULTS.get(status) or ("10000", _phrase(status))
        error: dict[str, Any] = {"code": code or default_code, "title": title or default_title}
        error["detail"] = detail or error["title"]
        if pointer is not None:
            error["source"] = {"pointer": pointer}
        return cls(status, [error], headers)

    @classmethod
    def call_ended(cls) -> ApiError:
        """Answer a command sent to a call that has hung up."""
        return cls.single(
            422,
            "90018",
            "This call is no longer active and can't receive commands.",
            title="Call has already ended",
            pointer="/call_control_id",
        )

    @classmethod
    def not_answered(cls) -> ApiError:
        """Answer a media command sent to a call nobody has answered yet."""
        return cls.single(
            422,
            "90034",
            "This call has not been answered yet and can't receive this command.",
            title="Call not answered yet",
            pointer="/call_control_id",
        )

    @classmethod
    def unknown_call(cls) -> ApiError:
        """Answer a command whose call_control_id the simulator never issued."""
        return cls.single(
            422,
            "90015",
            "The call_control_id provided was not valid.",
            title="Invalid Call Control ID",
            pointer="/call_control_id",
        )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def check_authorization(header: str) -> None:
    """Raise a 401 unless the request carries `Authorization: Bearer <non-empty key>`."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError.single(401, detail="Could not understand the provided credentials.")


def parse_body(raw: str | bytes) -> Any:
    """Return the JSON in `raw` ({} when empty), or None when it is not JSON (refused by validation)."""
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return None


def _pointer(loc: Sequence[int | str], body: Any) -> str:
    """Turn a pydantic error location into a JSON pointer into `body`, dropping union-branch tags."""
    parts: list[str] = []
    current = body
    for i, key in enumerate(loc):
        if isinstance(current, Mapping) and isinstance(key, str):
            wire = _PY_TO_WIRE.get(key, key) if i == 0 else key
            if wire in current:
                parts.append(wire)
                current = current[wire]
            elif i == len(loc) - 1:
                parts.append(wire)  # a missing required field
        elif isinstance(current, list) and isinstance(key, int) and key < len(current):
            parts.append(str(key))
            current = current[key]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@functools.cache
def _adapter(operation: str) -> TypeAdapter[Any]:
    return TypeAdapter(_PARAMS[operation])


def _check_client_state(body: Mapping[str, Any]) -> None:
    # The spec says client_state "must be a valid Base-64 encoded string"; whether Telnyx enforces
    # it was not found. Refusing it here catches an app that forgets to encode.
    value = body.get("client_state")
    if not isinstance(value, str):
        return
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError.single(
            422, detail="client_state must be a valid Base-64 encoded string", pointer="/client_state"
        ) from None


def validate_request(operation: str, body: Any) -> dict[str, Any]:
    """Return `body` if it is a valid request for `operation`, else raise a 422 `ApiError`.

    Validation is strict (no "5" for 5) and uses the SDK's TypedDicts, so required keys, enum literals
    and types follow the SDK's view of the contract; unknown extra keys pass, as they do at Telnyx.
    """
    if not isinstance(body, dict):
        raise ApiError.single(422, detail="The request body must be a JSON object", pointer="/")
    py_body = {_WIRE_TO_PY.get(k, k): v for k, v in body.items()}
    try:
        _adapter(operation).validate_python(py_body, strict=True)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            pointer = _pointer(err["loc"], body)
            field = pointer.lstrip("/") or "body"
            errors.append(
                {
                    "code": "10015",
                    "title": "Invalid parameter",
                    "detail": f"{field}: {err['msg']}",
                    "source": {"pointer": pointer},
                }
            )
        raise ApiError(422, errors) from None
    _check_client_state(body)
    return body


def check_route(method: str, action: str, *, dialing: bool) -> None:
    """Answer 404 to an action the simulator does not implement (or to the wrong method)."""
    if dialing:
        return
    if action not in ACTIONS or (method == "PUT") != (action == "client_state_update"):
        raise ApiError.single(404, detail=f"The simulator does not implement {method} action {action!r}")
