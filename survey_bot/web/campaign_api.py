"""/api/campaigns and /api/suppressions (nested in the /api blueprint, behind its token): create a campaign from an
uploaded list, steer it, read its status, report, contacts and export, and keep the do-not-call list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response, current_app, request
from quart_schema import validate_querystring, validate_request, validate_response

from survey_bot.campaigns.contacts import ListError, parse_phone
from survey_bot.campaigns.settings import CampaignSettings, SettingError, campaign_form_problem
from survey_bot.forms.placeholders import unfilled_placeholders
from survey_bot.reports.campaign_export import campaign_csv_chunks, campaign_export_columns
from survey_bot.reports.campaign_views import (
    CampaignList,
    CampaignReport,
    CampaignStatus,
    ContactPage,
    ImportReport,
    RowProblem,
    SuppressionLine,
    SuppressionPage,
)
from survey_bot.reports.campaigns import campaign_list, campaign_report, campaign_status, contact_page
from survey_bot.storage.campaigns import CampaignNotFound, TransitionRefused, import_campaign, transition
from survey_bot.storage.suppressions import (
    add_suppressions,
    count_suppressions,
    list_suppressions,
    remove_suppressions,
)
from survey_bot.utc import as_utc
from survey_bot.utc import now as utc_now
from survey_bot.web import throttle
from survey_bot.web.downloads import filename
from survey_bot.web.openapi import ApiError, errors, streams, takes_upload
from survey_bot.web.state import state
from survey_bot.web.uploads import UploadError, receive_upload

__all__ = ["blueprint"]

blueprint = Blueprint("campaigns", __name__)
CSV_BODY = {"text/csv": {"schema": {"type": "string", "description": "the contact list: a header with `phone`"}},
            "multipart/form-data": {"schema": {"type": "object", "required": ["contacts"], "properties": {
                "contacts": {"type": "string", "format": "binary", "description": "the contact list (CSV)"}}}}}


_TIME = "([01][0-9]|2[0-3]):[0-5][0-9]"
_WINDOW = f"^{_TIME}-{_TIME}$"
_DAY = "(mon|tue|wed|thu|fri|sat|sun)"
_DAYS = f"^{_DAY}(-{_DAY})?(,{_DAY}(-{_DAY})?)*$"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CampaignOptions(_Closed):
    """A new campaign's form and rules (as `survey-bot campaign create` takes them); the body is the list."""

    form: Annotated[str, Field(min_length=1, max_length=100, description="id of the form the calls ask")]
    name: Annotated[str | None, Field(None, max_length=200, description="default: the form id")]
    window: Annotated[str | None, Field(None, max_length=20, pattern=_WINDOW,
                                        description="HH:MM-HH:MM, start before end (default 09:00-20:00)")]
    days: Annotated[str | None, Field(None, max_length=60, pattern=_DAYS,
                                      description="mon-fri, mon-sun, mon,wed,fri; ranges forwards (default mon-sat)")]
    max_attempts: Annotated[int | None, Field(None, ge=1, le=100, description="default 3")]
    retry_after: Annotated[str | None, Field(None, max_length=12, pattern=r"^[0-9]*[1-9][0-9]*[smh]$",
                                             description="90s, 30m, 4h (default 4h)")]
    concurrency: Annotated[int | None, Field(None, ge=1, le=10_000, description="default 10")]
    rate: Annotated[float | None, Field(None, gt=0, le=1000, description="dials per second (default 1)")]
    amd: Annotated[bool | None, Field(None, description="answering-machine detection (default true)")]
    voicemail: Annotated[str | None, Field(None, min_length=1, max_length=2000, pattern=r"\S",
                                           description="needs amd (not false)")]
    quota: Annotated[int | None, Field(None, ge=1, description="stop after this many completes")]
    locale: Annotated[str | None, Field(None, max_length=35, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]
    default_region: Annotated[str | None, Field(None, pattern=r"^[A-Za-z]{2}$",
                                                description="region of national numbers (a region phonenumbers knows)")]


class PageQuery(_Closed):
    """A page: up to `limit` items after `cursor` (the previous page's next_cursor; empty for the first)."""

    limit: int = Field(100, ge=1, le=1000)
    cursor: str = Field("", max_length=40)


class SuppressionChange(_Closed):
    """Numbers to put on the suppression list (E.164)."""

    numbers: Annotated[list[Annotated[str, Field(max_length=40, pattern=r"^\+[0-9][0-9 ().-]{2,}$")]],
                       Field(min_length=1, max_length=1000, description="E.164, valid for their country")]


class SuppressionResult(BaseModel):
    """How many numbers the change touched."""

    changed: int
    unchanged: int


@blueprint.post("/campaigns")
@takes_upload(CSV_BODY)
@validate_querystring(CampaignOptions)
@validate_response(ImportReport, 201)
@errors(404)
async def create_campaign(query_args: CampaignOptions) -> tuple[ImportReport, int]:
    """Create a draft campaign from a contact list, streamed (the body as text/csv, or the `contacts` part of a
    multipart form), up to SURVEY_BOT_MAX_UPLOAD_BYTES. Rows not imported are listed with their line and reason
    (up to 1000 of each kind); a list that cannot be read at all is a 400 and leaves nothing behind."""
    app_state = state(current_app)
    if query_args.form not in app_state.catalog.forms:
        raise ApiError(404, "not_found", f"form: no form named {query_args.form!r}")
    if (problem := campaign_form_problem(app_state.catalog.forms[query_args.form])) is not None:
        raise ApiError(400, "invalid_request", f"form: {problem}")
    try:
        settings = CampaignSettings.from_text(**query_args.model_dump(exclude={"form", "name"}))
    except SettingError as exc:
        raise ApiError(400, "invalid_request", f"{exc.option.replace('-', '_')}: {exc.message}") from None
    try:
        upload = await receive_upload(request, app_state.settings.max_upload_bytes)
    except UploadError as exc:
        raise ApiError(exc.status, exc.error, exc.detail) from None
    with upload:
        try:
            async with app_state.sessions() as session, session.begin():
                summary = await import_campaign(session, upload, form_id=query_args.form,
                                                name=query_args.name or query_args.form, settings=settings,
                                                caller_id=app_state.settings.from_number or None, now=utc_now())
        except ListError as exc:
            raise ApiError(400, "invalid_request", f"contacts: {exc}: nothing was imported") from None
    return ImportReport(
        campaign_id=summary.campaign_id, imported=summary.imported, rejected=summary.rejected,
        duplicates=summary.duplicates, suppressed=summary.suppressed,
        rejected_rows=[RowProblem(line=row.line, reason=row.reason) for row in summary.rejected_rows],
        duplicate_rows=[RowProblem(line=row.line, reason=f"duplicate of line {row.first_line} ({row.phone})")
                        for row in summary.duplicate_rows],
        suppressed_rows=[RowProblem(line=line, reason=f"{phone} is on the suppression list")
                         for line, phone in summary.suppressed_rows],
        unfilled_placeholders=unfilled_placeholders(app_state.catalog.forms[query_args.form].document,
                                                    summary.header)), 201


@blueprint.get("/campaigns")
@validate_response(CampaignList)
async def list_campaigns() -> CampaignList:
    """Every campaign with its status, newest first."""
    async with state(current_app).sessions() as session:
        return await campaign_list(session)


@blueprint.get("/campaigns/<campaign_id>")
@validate_response(CampaignStatus)
async def get_campaign_status(campaign_id: str) -> CampaignStatus:
    """A campaign's status: contacts by state, attempts, calls in progress, next call, completes vs quota."""
    async with state(current_app).sessions() as session:
        try:
            return await campaign_status(session, campaign_id)
        except CampaignNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None


async def _act(campaign_id: str, action: str) -> CampaignStatus:
    async with state(current_app).sessions() as session:
        try:
            async with session.begin():
                await transition(session, campaign_id, action, utc_now())
            return await campaign_status(session, campaign_id)
        except CampaignNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except TransitionRefused as exc:
            raise ApiError(409, "conflict", str(exc)) from None


@blueprint.post("/campaigns/<campaign_id>/start")
@takes_upload(None)
@validate_response(CampaignStatus)
@errors(409)
async def start_campaign(campaign_id: str) -> CampaignStatus:
    """Start calling a draft campaign (the scheduler inside `survey-bot serve` dials it)."""
    return await _act(campaign_id, "start")


@blueprint.post("/campaigns/<campaign_id>/pause")
@takes_upload(None)
@validate_response(CampaignStatus)
@errors(409)
async def pause_campaign(campaign_id: str) -> CampaignStatus:
    """Pause a running campaign: no new dials (calls in progress finish)."""
    return await _act(campaign_id, "pause")


@blueprint.post("/campaigns/<campaign_id>/resume")
@takes_upload(None)
@validate_response(CampaignStatus)
@errors(409)
async def resume_campaign(campaign_id: str) -> CampaignStatus:
    """Resume a paused campaign."""
    return await _act(campaign_id, "resume")


@blueprint.post("/campaigns/<campaign_id>/cancel")
@takes_upload(None)
@validate_response(CampaignStatus)
@errors(409)
async def cancel_campaign(campaign_id: str) -> CampaignStatus:
    """Cancel a campaign: every contact not done gets its final disposition now (never dialled: not_attempted)."""
    return await _act(campaign_id, "cancel")


@blueprint.get("/campaigns/<campaign_id>/report")
@validate_response(CampaignReport)
async def get_campaign_report(campaign_id: str) -> CampaignReport:
    """Counts per final disposition (AAPOR codes) and the rates RR1, RR2, COOP1, REF1, CON1 with their formulas."""
    async with state(current_app).sessions() as session:
        try:
            return await campaign_report(session, campaign_id)
        except CampaignNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None


@blueprint.get("/campaigns/<campaign_id>/contacts")
@validate_querystring(PageQuery)
@validate_response(ContactPage)
async def list_contacts(campaign_id: str, query_args: PageQuery) -> ContactPage:
    """Page through a campaign's contacts in list order."""
    if query_args.cursor and not query_args.cursor.isdigit():
        raise ApiError(400, "invalid_request", "cursor: not a cursor this API issued")
    async with state(current_app).sessions() as session:
        try:
            return await contact_page(session, campaign_id, query_args.limit, int(query_args.cursor or 0))
        except CampaignNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None


@blueprint.get("/campaigns/<campaign_id>/export.csv")
@streams("text/csv")
async def export_campaign(campaign_id: str) -> Response:
    """Download one CSV row per contact (the same file as `survey-bot campaign export`), streamed."""
    app_state = state(current_app)
    async with app_state.sessions() as session:
        try:
            columns = await campaign_export_columns(session, campaign_id)
        except CampaignNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None

    async def body() -> AsyncIterator[bytes]:
        async for chunk in campaign_csv_chunks(app_state.engine, campaign_id, columns):
            yield chunk.encode("utf-8")

    response = Response(body(), 200, content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename("campaign-" + campaign_id, "csv")}"'
    response.headers["Cache-Control"] = "no-store"
    response.timeout = None
    return response


@blueprint.get("/suppressions")
@validate_querystring(PageQuery)
@validate_response(SuppressionPage)
async def get_suppressions(query_args: PageQuery) -> SuppressionPage:
    """Page through the suppression list in number order."""
    async with state(current_app).sessions() as session:
        entries = await list_suppressions(session, query_args.limit, query_args.cursor)
        total = await count_suppressions(session)
    items = [SuppressionLine(phone=e.phone, reason=e.reason, source=e.source, created_at=as_utc(e.created_at))
             for e in entries]
    return SuppressionPage(items=items, total=total,
                           next_cursor=entries[-1].phone if len(entries) == query_args.limit else "")


def _numbers(texts: list[str]) -> list[str]:
    found = []
    for i, text in enumerate(texts):
        parsed = parse_phone(text.strip(), None)
        if isinstance(parsed, str):
            raise ApiError(400, "invalid_request", f"numbers.{i}: {parsed}")
        found.append(parsed[0])
    return found


@blueprint.post("/suppressions")
@validate_request(SuppressionChange)
@validate_response(SuppressionResult)
async def add_to_suppressions(data: SuppressionChange) -> SuppressionResult:
    """Put numbers on the suppression list: no campaign calls them again, even one already running."""
    numbers = _numbers(data.numbers)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    async with state(current_app).sessions() as session, session.begin():
        added = await add_suppressions(session, numbers, "manual", f"api:{throttle.client_address(app)}",
                                       utc_now())
    return SuppressionResult(changed=added, unchanged=len(set(numbers)) - added)


@blueprint.delete("/suppressions/<number>")
@validate_response(SuppressionResult)
async def remove_from_suppressions(number: str) -> SuppressionResult:
    """Take a number off the suppression list (404 if it is not on it: no number that is not one is)."""
    parsed = parse_phone(number.strip(), None)
    if isinstance(parsed, str):
        raise ApiError(404, "not_found", f"{number!r} is not on the suppression list ({parsed})")
    phone = parsed[0]
    async with state(current_app).sessions() as session, session.begin():
        removed = await remove_suppressions(session, [phone])
    if not removed:
        raise ApiError(404, "not_found", f"{phone} is not on the suppression list")
    return SuppressionResult(changed=removed, unchanged=0)
