"""The admin API's OpenAPI 3.1 document (quart-schema, from the route declarations) and its JSON errors.

`/openapi.json` describes the /api routes only (the webhook is Telnyx's contract, not ours) and is served
without the token: it documents the API, it holds no data. Every /api operation is documented with the
errors the token guard gives (401, 503), 400 where a query string or body is validated (plus 413/415 for
bodies), 404 where the path names a form or a response, and those a route declares with `errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import ValidationError
from quart import Quart, Response, jsonify
from quart_schema import QuartSchema, RequestSchemaValidationError
from quart_schema.openapi import OpenAPIProvider
from quart_schema.validation import QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.routing import Rule

from survey_bot import __version__
from survey_bot.web.api_models import Error, FieldProblem

__all__ = ["UPLOAD_ATTRIBUTE", "ApiError", "errors", "init_openapi", "streams", "takes_upload"]

F = TypeVar("F", bound=Callable[..., Any])
STREAM_ATTRIBUTE = "_survey_bot_streams"
UPLOAD_ATTRIBUTE = "_survey_bot_upload"  # the body is not JSON: an upload, or nothing at all
ERRORS_ATTRIBUTE = "_survey_bot_errors"
ERROR_DESCRIPTIONS = {
    400: "invalid request: `fields` names each bad field",
    401: "missing or wrong bearer token",
    404: "no such form, response or campaign (for a call or a campaign's creation: no such form)",
    409: "the campaign's state does not allow this (e.g. resume a running campaign)",
    413: "request body too large",
    415: "request body is not JSON",
    429: "too many failed authentications from this address: wait `Retry-After` seconds",
    503: "the API is disabled (SURVEY_BOT_ADMIN_TOKEN unset) or a setting it needs is missing",
}


class ApiError(Exception):
    """An error answered as JSON `{error, detail}` with `status`."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def streams(media_type: str) -> Callable[[F], F]:
    """Document a route that answers 200 with a streamed `media_type` body instead of JSON."""

    def mark(view: F) -> F:
        setattr(view, STREAM_ATTRIBUTE, media_type)
        return view

    return mark


def takes_upload(media_types: dict[str, Any] | None) -> Callable[[F], F]:
    """Mark a route whose body is not JSON: `media_types` documents the upload it takes (None: no body)."""

    def mark(view: F) -> F:
        setattr(view, UPLOAD_ATTRIBUTE, media_types or {})
        return view

    return mark


def errors(*statuses: int) -> Callable[[F], F]:
    """Document error statuses a route answers beyond those derived from its declarations."""

    def mark(view: F) -> F:
        setattr(view, ERRORS_ATTRIBUTE, statuses)
        return view

    return mark


class AdminOpenAPI(OpenAPIProvider):
    """quart-schema's generator limited to /api, with streamed bodies and the shared errors declared."""

    def generate_rules(self) -> Iterable[Rule]:
        return [rule for rule in super().generate_rules() if rule.rule.startswith("/api/")]

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        statuses = [401, 429, 503, *getattr(view, ERRORS_ATTRIBUTE, ())]
        if getattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE, None) is not None:
            statuses.append(400)
        if getattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE, None) is not None:
            statuses += [400, 413, 415]
        if rule.arguments:
            statuses.append(404)
        upload = getattr(view, UPLOAD_ATTRIBUTE, None)
        if upload:
            statuses += [400, 413, 415]
        error = {"$ref": "#/components/schemas/Error"}
        for operations in paths.values():
            for operation in operations.values():
                if "requestBody" in operation:  # quart-schema leaves it optional; every body here is required
                    operation["requestBody"] = {**operation["requestBody"], "required": True}
                if upload:
                    operation["requestBody"] = {"required": True, "content": upload}
                responses = operation["responses"] = dict(operation["responses"])
                media_type = getattr(view, STREAM_ATTRIBUTE, None)
                if media_type is not None:
                    responses[200] = {"description": "the export, streamed",
                                      "content": {media_type: {"schema": {"type": "string"}}},
                                      "headers": {"Content-Disposition": {"schema": {"type": "string"}}}}
                for status in sorted(set(statuses)):
                    responses.setdefault(status, {"description": ERROR_DESCRIPTIONS[status],
                                                  "content": {"application/json": {"schema": error}}})
        components.update(_error_components())
        return paths, components


def _error_components() -> dict[str, Any]:
    schema = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {**definitions, "Error": schema}


def init_openapi(app: Quart) -> None:
    """Serve /openapi.json, validate declared bodies and query strings, answer errors as JSON."""
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=None,  # the document only: no UI pulling scripts from a CDN
        info={"title": "survey-bot admin API", "version": __version__,
              "description": "Forms, responses, exports and outbound calls. Bearer SURVEY_BOT_ADMIN_TOKEN."},
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        security=[{"bearer": []}],
        openapi_provider_class=AdminOpenAPI,
    )
    app.register_error_handler(RequestSchemaValidationError, _invalid_request)
    app.register_error_handler(ApiError, _api_error)


async def _invalid_request(error: RequestSchemaValidationError) -> tuple[Response, int]:
    cause = error.validation_error
    if isinstance(cause, ValidationError):
        problems = [FieldProblem(field=".".join(str(part) for part in item["loc"]) or "body", message=item["msg"])
                    for item in cause.errors(include_url=False)]
    else:
        problems = [FieldProblem(field="body", message=str(cause))]
    detail = "; ".join(f"{problem.field}: {problem.message}" for problem in problems)
    body = Error(error="invalid_request", detail=detail, fields=problems)
    return jsonify(body.model_dump(mode="json")), 400


async def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error=error.error, detail=error.detail), error.status
