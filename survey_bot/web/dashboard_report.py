"""A form's dashboard page: its time range from the query string, then the funnel, outcomes, timings and one
page of the responses table for that range. The arithmetic is reports.metrics'; the charts are charts.py's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.forms.model import Form, FormCatalog
from survey_bot.reports import metrics
from survey_bot.reports.export import ResponseFilter
from survey_bot.storage.form_versions import newest_form
from survey_bot.storage.models import Response
from survey_bot.utc import typed_utc
from survey_bot.vocabulary import OUTCOME_COLOURS, OUTCOME_LABELS, STATUSES
from survey_bot.web import charts

__all__ = ["FormQuery", "FormReport", "QueryError", "export_links", "form_report"]

PAGE_SIZE = 25


class QueryError(ValueError):
    """A query string the page cannot use; the message says which parameter and why."""


def _when(name: str, text: str, *, end: bool) -> datetime | None:
    """A date (a whole UTC day; `end` makes it inclusive) or an ISO timestamp; None when blank."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"{name}: {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    try:
        if len(text) == 10:
            day = datetime.combine(parsed.date(), time(), UTC)
            return day + timedelta(days=1) if end else day
        return typed_utc(parsed)
    except ValueError as exc:
        raise QueryError(f"{name}: {exc}") from None
    except OverflowError:  # the day after 9999-12-31
        raise QueryError(f"{name}: {text!r} is the last day there is; leave it empty for no end") from None


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
        return _when("since", self.since_text, end=False)

    @property
    def until(self) -> datetime | None:
        """End of the range (exclusive; a date means the whole of that day)."""
        return _when("until", self.until_text, end=True)

    def check(self) -> None:
        """Raise QueryError when a date in the query cannot be used (say which and why)."""
        _ = self.since, self.until

    def selection(self, form_id: str, *, with_status: bool) -> ResponseFilter:
        """The exporter's filter for these settings."""
        return ResponseFilter(form_id, (self.status,) if with_status and self.status else (), self.since, self.until)

    def args(self, **changes: Any) -> str:
        """A query string with these settings (and `changes`), blanks left out."""
        values = {"since": self.since_text, "until": self.until_text, "status": self.status, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


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
    form = await newest_form(db, catalog, form_id)
    if form is None:
        return None
    columns = [getattr(Response, name) for name in metrics.ResponseRecord.__dataclass_fields__]
    in_range = query.selection(form_id, with_status=False).conditions()
    records = [metrics.ResponseRecord(**row._mapping) for row in (await db.execute(select(*columns).where(*in_range)))]
    funnel = metrics.funnel(records, form.fields, form.relevance)
    outcomes = metrics.outcomes(records)
    ai, keypad = metrics.source_share(r for r in records if r.ended)
    titles = {f.name: f.title for f in form.fields}
    funnel_svg = charts.funnel_chart("funnel", f"Per-question funnel of {form.title}", [
        charts.FunnelBar(titles[row.name], row.reached, row.by_ai, row.by_keypad, row.breakoffs, row.declined,
                         row.not_applicable)
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
