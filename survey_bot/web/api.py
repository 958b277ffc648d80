"""/api routes, behind the admin bearer token: forms, responses, exports, outbound calls, the audit log (see
openapi.py)."""

from __future__ import annotations

import json

from quart import Blueprint, Response, current_app, jsonify, request
from quart_schema import validate_querystring, validate_request, validate_response
from sqlalchemy import exists, select

from survey_bot import json_codec
from survey_bot.errors import ConfigError
from survey_bot.intake.outbound import CallRequestError, start_outbound_call
from survey_bot.reports.audit import AuditPage, audit_page
from survey_bot.reports.export import ResponseFilter, UnknownFormError
from survey_bot.reports.read_model import CursorError, decode_cursor, forms_overview, response_detail, response_page
from survey_bot.reports.views import FormList, ResponseDetail, ResponsePage
from survey_bot.storage.models import FormVersion
from survey_bot.utc import now as utc_now
from survey_bot.web import throttle
from survey_bot.web.api_models import (
    AuditQuery,
    CallAccepted,
    CallRequest,
    CsvExportQuery,
    ExportQuery,
    FhirExportQuery,
    ResponsesQuery,
    SelectionQuery,
)
from survey_bot.web.auth import token_matches
from survey_bot.web.campaign_api import blueprint as campaign_blueprint
from survey_bot.web.downloads import CsvOptions, export_download
from survey_bot.web.openapi import UPLOAD_ATTRIBUTE, ApiError, errors, streams
from survey_bot.web.state import state

__all__ = ["blueprint", "request_actor"]

blueprint = Blueprint("api", __name__, url_prefix="/api")
blueprint.register_blueprint(campaign_blueprint)  # /api/campaigns, /api/suppressions: behind the same token


@blueprint.before_request
async def require_token() -> tuple[Response, int] | None:
    """503 until SURVEY_BOT_ADMIN_TOKEN is set; 401 unless the bearer token matches it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configured = state(app).settings.admin_token
    if not configured:
        return jsonify(error="api_disabled", detail="SURVEY_BOT_ADMIN_TOKEN is not set on the server"), 503
    header = request.headers.get("Authorization", "")
    if not header:  # no credential: nothing guessed, nothing counted
        return _unauthorized()
    client = throttle.client_address(app)
    limited = await throttle.blocked(app, client)
    if limited is not None:
        return throttle.too_many(limited)
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not token_matches(configured, presented.strip()):
        await throttle.note_failure(app, client)
        return _unauthorized()
    return None


def _unauthorized() -> tuple[Response, int]:
    response = jsonify(error="unauthorized", detail="send Authorization: Bearer <SURVEY_BOT_ADMIN_TOKEN>")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response, 401


@blueprint.before_request
async def require_json() -> tuple[Response, int] | None:
    """415 for a body that is not JSON; 400 saying where for one that is not UTF-8, not well-formed, or nested or
    numbered past json_codec's limits (after the token check).

    Why here: Quart's get_json would raise UnicodeDecodeError or RecursionError (a 500) and word the rest as a
    bare "bad request"; once this check passes, its parse of the same bytes cannot fail.
    """
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    if getattr(current_app.view_functions.get(request.endpoint or ""), UPLOAD_ATTRIBUTE, None) is not None:
        return None  # an upload (a contact list) or a bodyless action: the route reads what it takes
    if not request.is_json:
        return jsonify(error="unsupported_media_type", detail="send Content-Type: application/json"), 415
    problem = _body_problem(await request.get_data(cache=True, as_text=False, parse_form_data=False))
    return (jsonify(error="invalid_request", detail=f"body: {problem}"), 400) if problem else None


def _body_problem(body: bytes) -> str | None:
    """What keeps `body` from being read as JSON (None: nothing)."""
    try:
        json_codec.loads_bounded(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"not UTF-8 ({exc.reason} at byte {exc.start})"
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except json_codec.JsonLimitError as exc:
        return str(exc)
    return None


@blueprint.post("/calls")
@validate_request(CallRequest)
@validate_response(CallAccepted, 202)
@errors(404)
async def create_call(data: CallRequest) -> tuple[CallAccepted, int]:
    """Place an outbound survey call.

    The response and its dial command are stored first; the dispatcher dials right after. A form that
    does not exist is a 404, like everywhere else in this API.
    """
    app_state = state(current_app)
    if data.form not in app_state.catalog.forms:
        known = ", ".join(sorted(app_state.catalog.forms))
        raise ApiError(404, "not_found", f"form: no form named {data.form!r} (known: {known})")
    try:
        async with app_state.sessions() as session, session.begin():
            response = await start_outbound_call(session, app_state.catalog, app_state.settings,
                                                 data.to, data.form, data.locale)
    except CallRequestError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    except ConfigError as exc:
        raise ApiError(503, "not_configured", str(exc)) from None
    app_state.wake_dispatcher()
    return CallAccepted(response_id=response.id, status=response.state.status, to=data.to, form=data.form), 202


@blueprint.get("/forms")
@validate_response(FormList)
async def list_forms() -> FormList:
    """List every form with its stored versions and its responses by status."""
    app_state = state(current_app)
    async with app_state.sessions() as session:
        return FormList(forms=await forms_overview(session, app_state.catalog, utc_now()))


@blueprint.get("/forms/<form_id>/responses")
@validate_querystring(ResponsesQuery)
@validate_response(ResponsePage)
async def list_responses(form_id: str, query_args: ResponsesQuery) -> ResponsePage:
    """Page through a form's responses, oldest first.

    Keyset pagination on (started_at, id): pages neither skip nor repeat rows while calls come in.
    """
    app_state = state(current_app)
    try:
        after = decode_cursor(query_args.cursor) if query_args.cursor else None
    except CursorError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    async with app_state.sessions() as session:
        known = form_id in app_state.catalog.forms or await session.scalar(
            select(exists().where(FormVersion.form_id == form_id)))
        if not known:
            raise ApiError(404, "not_found", f"no form {form_id!r}")
        return await response_page(session, _selection(form_id, query_args), query_args.limit, after)


@blueprint.get("/forms/<form_id>/export.csv")
@validate_querystring(CsvExportQuery)
@streams("text/csv")
async def export_csv(form_id: str, query_args: CsvExportQuery) -> Response:
    """Download a form's responses as CSV, streamed (the same file as `survey-bot export`)."""
    options = CsvOptions(query_args.with_sources, query_args.excel, query_args.raw)
    return await _download(_selection(form_id, query_args), "csv", query_args, options)


@blueprint.get("/forms/<form_id>/export.ndjson")
@validate_querystring(ExportQuery)
@streams("application/x-ndjson")
async def export_ndjson(form_id: str, query_args: ExportQuery) -> Response:
    """Download a form's responses as NDJSON, streamed: one object per response."""
    return await _download(_selection(form_id, query_args), "ndjson", query_args)


@blueprint.get("/forms/<form_id>/export.fhir.ndjson")
@validate_querystring(FhirExportQuery)
@streams("application/fhir+ndjson")
async def export_fhir(form_id: str, query_args: FhirExportQuery) -> Response:
    """Download a form's responses as FHIR R4 QuestionnaireResponses, streamed: one per line (failed responses,
    which hold no answers, are left out)."""
    return await _download(_selection(form_id, query_args), "fhir", query_args)


@blueprint.get("/responses/<response_id>")
@validate_response(ResponseDetail)
async def get_response(response_id: str) -> ResponseDetail:
    """Show one response: answers, sources, keypad attempts, transcript, failures and its call's timeline."""
    app_state = state(current_app)
    async with app_state.sessions() as session:
        detail = await response_detail(session, app_state.catalog, response_id)
    if detail is None:
        raise ApiError(404, "not_found", f"no response {response_id!r}")
    return detail


@blueprint.get("/audit")
@validate_querystring(AuditQuery)
@validate_response(AuditPage)
async def list_audit(query_args: AuditQuery) -> AuditPage:
    """Page through the audit log, newest first: who purged which form's responses, when, and how many."""
    async with state(current_app).sessions() as session:
        try:
            return await audit_page(session, query_args.limit, query_args.cursor)
        except CursorError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None


def request_actor() -> str:
    """Who an audit line names for this API request: the client's address and its session (the bearer token)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return f"api:{throttle.client_address(app)} session=bearer"


def _selection(form_id: str, query: SelectionQuery) -> ResponseFilter:
    return ResponseFilter(form_id, tuple(query.status), query.since, query.until)


async def _download(selection: ResponseFilter, kind: str, query: ExportQuery | FhirExportQuery,
                    options: CsvOptions | None = None) -> Response:
    try:
        return await export_download(state(current_app), selection, kind, options,
                                     labels=isinstance(query, ExportQuery) and query.labels,
                                     sensitive_for=request_actor() if query.include_sensitive else None)
    except UnknownFormError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
