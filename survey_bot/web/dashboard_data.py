"""Read what each dashboard page shows: short read-only queries shaped into plain values for the templates.

The arithmetic is metrics.py's; this module only selects rows and hands them over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from quart import Response as HTTPResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.errors import FormError
from survey_bot.forms.load import parse_form
from survey_bot.forms.model import Form, FormCatalog
from survey_bot.reports import metrics
from survey_bot.reports.export import (
    STATUSES,
    ResponseFilter,
    UnknownFormError,
    csv_chunks,
    ndjson_chunks,
    plan_export,
    to_utc,
)
from survey_bot.storage.form_versions import form_of_version
from survey_bot.storage.models import Command, FormVersion, Response, WebhookEvent
from survey_bot.web import charts
from survey_bot.web.state import AppState

__all__ = ["FormQuery", "export_links", "export_response", "form_report", "forms_overview", "response_detail"]

PAGE_SIZE = 25
OUTCOME_LABELS = {"completed": "Completed", "partial": "Partial", "breakoff": "Breakoff",
                  "refused": "Refused / no answer", "failed": "Failed"}
OUTCOME_COLOURS = {"completed": "#1d6b35", "partial": "#1f5fa8", "breakoff": "#b00020",
                   "refused": "#6b6b6b", "failed": "#4a4a4a"}


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def _when(text: str | None, *, end: bool) -> datetime | None:
    """A date (a whole UTC day; `end` makes it inclusive) or an ISO timestamp; None when blank or bad."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = datetime.combine(datetime.fromisoformat(text).date(), time(), UTC)
            return day + timedelta(days=1) if end else day
        return to_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class FormQuery:
    """A form page's filters: started in [since, until), the table's status and page."""

    since_text: str = ""
    until_text: str = ""
    status: str = ""
    page: int = 1

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> FormQuery:
        """Read the query string, dropping what does not parse."""
        status = args.get("status", "")
        try:
            number = max(1, int(args.get("page", "1")))
        except ValueError:
            number = 1
        return cls(args.get("since", "").strip()[:32], args.get("until", "").strip()[:32],
                   status if status in STATUSES else "", number)

    @property
    def since(self) -> datetime | None:
        """Start of the range (inclusive)."""
        return _when(self.since_text, end=False)

    @property
    def until(self) -> datetime | None:
        """End of the range (exclusive; a date means the whole of that day)."""
        return _when(self.until_text, end=True)

    def selection(self, form_id: str, *, with_status: bool) -> ResponseFilter:
        """The exporter's filter for these settings."""
        return ResponseFilter(form_id, (self.status,) if with_status and self.status else (), self.since, self.until)

    def args(self, **changes: Any) -> str:
        """A query string with these settings (and `changes`), blanks left out."""
        values = {"since": self.since_text, "until": self.until_text, "status": self.status, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


async def _form(db: AsyncSession, catalog: FormCatalog, form_id: str) -> Form | None:
    """Today's form, else its newest stored version."""
    if form_id in catalog.forms:
        return catalog.forms[form_id]
    stored = await db.scalar(select(FormVersion).where(FormVersion.form_id == form_id)
                             .order_by(FormVersion.created_at.desc(), FormVersion.id.desc()).limit(1))
    return None if stored is None else parse_form(stored.document, form_id, f"<stored version {stored.version[:12]}>")


@dataclass(frozen=True)
class FormSummary:
    """One row of the forms page."""

    form_id: str
    title: str
    loaded: bool
    numbers: tuple[str, ...]
    versions: list[dict[str, Any]]
    today: int
    total: int
    ended: int
    completed: int

    @property
    def completion_rate(self) -> float | None:
        """Completed over ended calls."""
        return metrics.completion_rate(self.completed, self.ended)


async def forms_overview(db: AsyncSession, catalog: FormCatalog) -> list[FormSummary]:
    """Every form loaded or stored, with its versions and call counts (today = since 00:00 UTC)."""
    midnight = datetime.combine(datetime.now(UTC).date(), time(), UTC)
    by_status = (await db.execute(select(Response.form_id, Response.status, func.count())
                                  .group_by(Response.form_id, Response.status))).all()
    today: dict[str, int] = {fid: n for fid, n in (await db.execute(
        select(Response.form_id, func.count()).where(Response.started_at >= midnight).group_by(Response.form_id)))}
    per_version: dict[int, int] = {vid: n for vid, n in (await db.execute(
        select(Response.form_version_id, func.count()).group_by(Response.form_version_id)))}
    versions: dict[str, list[dict[str, Any]]] = {}
    for row in (await db.execute(select(FormVersion).order_by(FormVersion.created_at.desc()))).scalars():
        current = catalog.forms.get(row.form_id)
        versions.setdefault(row.form_id, []).append({
            "version": row.version[:12], "created_at": row.created_at, "responses": per_version.get(row.id, 0),
            "current": current is not None and current.version == row.version, "title": row.document.get("title"),
        })
    summaries = []
    for form_id in sorted(set(catalog.forms) | set(versions)):
        counts = {status: n for fid, status, n in by_status if fid == form_id}
        form = catalog.forms.get(form_id)
        stored_title = next((v["title"] for v in versions.get(form_id, []) if v["title"]), form_id)
        summaries.append(FormSummary(
            form_id, form.title if form else str(stored_title), form is not None, form.numbers if form else (),
            versions.get(form_id, []), today.get(form_id, 0), sum(counts.values()),
            sum(n for s, n in counts.items() if s != "in_progress"), counts.get("completed", 0),
        ))
    return summaries


@dataclass
class FormReport:
    """Everything a form's page shows."""

    form: Form
    funnel: metrics.Funnel
    outcomes: metrics.OutcomeCounts
    ai_answers: int
    keypad_answers: int
    timing: metrics.Timing
    funnel_svg: Markup
    outcome_svg: Markup
    rows: list[Response] = field(default_factory=list)
    matching: int = 0
    page: int = 1
    pages: int = 1
    titles: dict[str, str] = field(default_factory=dict)


async def form_report(db: AsyncSession, catalog: FormCatalog, form_id: str, query: FormQuery) -> FormReport | None:
    """The funnel, outcomes and timings of calls started in the range, and one page of the table."""
    form = await _form(db, catalog, form_id)
    if form is None:
        return None
    columns = [getattr(Response, name) for name in metrics.ResponseRecord.__dataclass_fields__]
    in_range = query.selection(form_id, with_status=False).conditions()
    records = [metrics.ResponseRecord(**row._mapping) for row in (await db.execute(select(*columns).where(*in_range)))]
    funnel = metrics.funnel(records, form.fields)
    outcomes = metrics.outcomes(records)
    ai, keypad = metrics.source_share(r for r in records if r.ended)
    titles = {f.name: f.title for f in form.fields}
    funnel_svg = charts.funnel_chart("funnel", f"Per-question funnel of {form.title}", [
        charts.FunnelBar(titles[row.name], row.reached, row.by_ai, row.by_keypad, row.breakoffs)
        for row in funnel.rows], base=funnel.connected)
    outcome_svg = charts.bar_chart("outcomes", f"Outcomes of {form.title}", [
        charts.Bar(OUTCOME_LABELS[name], count, OUTCOME_COLOURS[name]) for name, count in outcomes.counts.items()
    ], total=outcomes.total)
    table = query.selection(form_id, with_status=True).conditions()
    matching = int(await db.scalar(select(func.count()).select_from(Response).where(*table)) or 0)
    pages = max(1, -(-matching // PAGE_SIZE))
    page = min(query.page, pages)
    rows = list((await db.execute(select(Response).where(*table).order_by(Response.started_at.desc(), Response.id)
                                  .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))).scalars())
    return FormReport(form, funnel, outcomes, ai, keypad, metrics.timing(records), funnel_svg, outcome_svg,
                      rows, matching, page, pages, titles)


def export_links(form_id: str, query: FormQuery) -> dict[str, str]:
    """The download buttons' URLs: the page's filters applied to the shared exporter."""
    args = query.args()
    suffix = f"?{args}" if args else ""
    return {kind: f"/dashboard/forms/{form_id}/export.{kind}{suffix}" for kind in ("csv", "ndjson")}


def _document(catalog: FormCatalog, form_id: str) -> Mapping[str, Any] | None:
    form = catalog.forms.get(form_id)
    return form.document if form is not None else None


async def export_response(app_state: AppState, form_id: str, kind: str, query: FormQuery) -> HTTPResponse | None:
    """Stream the export (export.py's writers) as a download; None when the form is unknown."""
    selection = query.selection(form_id, with_status=True)
    try:
        async with app_state.engine.connect() as connection:
            plan = await plan_export(connection, selection, lambda: _document(app_state.catalog, form_id))
    except UnknownFormError:
        return None
    chunks: AsyncIterator[str] = (csv_chunks(app_state.engine, plan, selection) if kind == "csv"
                                  else ndjson_chunks(app_state.engine, plan, selection))

    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield chunk.encode("utf-8")

    media = "text/csv; charset=utf-8" if kind == "csv" else "application/x-ndjson; charset=utf-8"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = HTTPResponse(body(), 200, content_type=media)
    response.headers["Content-Disposition"] = f'attachment; filename="{form_id}-{stamp}.{kind}"'
    response.headers["Cache-Control"] = "no-store"
    response.timeout = None  # a large export may take longer than RESPONSE_TIMEOUT
    return response


@dataclass
class ResponseDetail:
    """Everything a response's page shows."""

    response: Response
    form: Form | None
    answers: list[dict[str, Any]]
    timeline: list[dict[str, Any]]


async def response_detail(db: AsyncSession, catalog: FormCatalog, response_id: str) -> ResponseDetail | None:
    """A response with its form, its answers in form order, and its webhooks and commands in time order."""
    response = await db.get(Response, response_id)
    if response is None:
        return None
    try:
        form: Form | None = await form_of_version(db, catalog, response.form_id, response.form_version_id)
    except FormError:  # a stored version that no longer parses: still show the raw answers
        form = None
    names = [f.name for f in form.fields] if form else []
    names += [n for n in response.answers if n not in names]
    titles = {f.name: f.title for f in form.fields} if form else {}
    answers = [{"name": n, "title": titles.get(n, n), "value": response.answers.get(n),
                "answered": n in response.answers, "source": response.sources.get(n),
                "at": response.answer_times.get(n)} for n in names]
    events = (await db.execute(select(WebhookEvent).where(WebhookEvent.response_id == response_id))).scalars()
    commands = (await db.execute(select(Command).where(Command.response_id == response_id))).scalars()
    timeline: list[dict[str, Any]] = [
        {"at": _aware(e.occurred_at or e.received_at), "kind": "webhook", "what": e.event_type,
         "state": e.state, "note": e.note, "id": e.id} for e in events]
    timeline += [{"at": _aware(c.created_at), "kind": "command", "what": c.action, "state": c.status,
                  "note": c.outcome, "id": c.step, "sent_at": _aware(c.sent_at), "attempts": c.attempts}
                 for c in commands]
    timeline.sort(key=lambda item: (item["at"] or datetime.min.replace(tzinfo=UTC), item["kind"] == "command"))
    return ResponseDetail(response, form, answers, timeline)
