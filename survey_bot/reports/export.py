"""Stream a form's responses as CSV or NDJSON: columns over every version used, keyset batches, the writers.

Rows come from the database in keyset batches on (started_at, id), each batch in its own short read, so an
export of any size holds neither the whole result in memory nor a transaction (SQLite's write lock) open.

The rows' format (CSV cells, NDJSON objects, declined and not-applicable answers) is export_rows'.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, Text, and_, cast, exists, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from survey_bot.forms.conditions import Logic, build_logic
from survey_bot.forms.labels import field_labels
from survey_bot.forms.localised import locales_of
from survey_bot.forms.schema_walk import leaves
from survey_bot.forms.sensitive import sensitivity
from survey_bot.reports.csv_safety import csv_record, neutralise_all
from survey_bot.reports.export_rows import META_COLUMNS, ExportPlan, csv_records, ndjson_record
from survey_bot.storage.audit import EXPORT_SENSITIVE, record_audit
from survey_bot.storage.models import FormVersion, Response
from survey_bot.utc import as_utc
from survey_bot.utc import now as utc_now

__all__ = [
    "META_COLUMNS",
    "ExportPlan",
    "ResponseFilter",
    "UnknownFormError",
    "audit_sensitive_export",
    "count_responses",
    "csv_chunks",
    "keyset_after",
    "ndjson_chunks",
    "plan_export",
    "response_batches",
]

BATCH_SIZE = 5000
# The columns an export reads, in the order the writers unpack them (then the sources or NULL). Answers,
# sources and (on SQLite) timestamps arrive as the stored text: decoding them here is several times faster
# than SQLAlchemy's per-value processors, which took most of the export's time. JSON is cast in SQL
# because asyncpg would decode it itself; PostgreSQL's timestamps still arrive as datetimes.
_ROW_COLUMNS = (Response.id, Response.form_version_id, Response.status, Response.direction,
                Response.from_number, Response.to_number, Response.locale, type_coerce(Response.started_at, String),
                type_coerce(Response.completed_at, String), cast(Response.answers, Text))
_SOURCES = cast(Response.sources, Text)
_TIMES = cast(Response.answer_times, Text)
_PROVENANCE = cast(Response.provenance, Text)
Progress = Callable[[int], None]


class UnknownFormError(LookupError):
    """No form by that id: neither in the forms folder nor among the stored versions."""

    def __init__(self, form_id: str) -> None:
        self.form_id = form_id
        super().__init__(f"unknown form {form_id!r}: not in the forms folder and no stored versions")


@dataclass(frozen=True)
class ResponseFilter:
    """Which responses of a form: any of `statuses` (all when empty), started in [since, until), among
    `response_ids` when given (an outbound webhook's one response)."""

    form_id: str
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    response_ids: tuple[str, ...] = ()

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions selecting these responses."""
        found: list[ColumnElement[bool]] = [Response.form_id == self.form_id]
        if self.statuses:
            found.append(Response.status.in_(self.statuses))
        if self.since is not None:
            found.append(Response.started_at >= as_utc(self.since))
        if self.until is not None:
            found.append(Response.started_at < as_utc(self.until))
        if self.response_ids:
            found.append(Response.id.in_(self.response_ids))
        return found


def keyset_after(started_at: datetime | str, response_id: str) -> ColumnElement[bool]:
    """Rows strictly after (started_at, id) in export order: no gaps or repeats while rows are added."""
    if isinstance(started_at, str):  # SQLite's stored text, as the export reads it
        started_at = datetime.fromisoformat(started_at)
    # The redundant `>=` lets SQLite (with bound parameters) seek the (form_id, started_at) index instead
    # of scanning the form's rows from the start on every batch.
    return and_(Response.started_at >= started_at,
                or_(Response.started_at > started_at, Response.id > response_id))


async def plan_export(connection: AsyncConnection, selection: ResponseFilter,
                      current: Callable[[], Mapping[str, Any] | None]) -> ExportPlan:
    """Work out the columns from the versions the selected responses were collected with.

    `current` returns today's form document (None if the forms folder has none); it is called only when
    no response matches (the header is then today's form, else the newest stored version) or nothing is
    stored. A form that is in neither place raises UnknownFormError.
    """
    stored = (await connection.execute(
        select(FormVersion.id, FormVersion.version, FormVersion.document)
        .where(FormVersion.form_id == selection.form_id)
        .order_by(FormVersion.created_at.desc(), FormVersion.id.desc())
    )).all()
    used_ids = set((await connection.execute(
        select(FormVersion.id).where(
            FormVersion.form_id == selection.form_id,
            exists().where(Response.form_version_id == FormVersion.id, *selection.conditions()),
        )
    )).scalars())
    documents: list[tuple[int | None, Any]] = [(version_id, document) for version_id, _version, document in stored
                                               if version_id in used_ids]
    if not documents:
        today = current()
        if today is None and not stored:
            raise UnknownFormError(selection.form_id)
        documents = [(None, today) if today is not None else (stored[0].id, stored[0].document)]
    names: dict[str, None] = {}
    sensitive: set[str] = set()
    logic: dict[int | None, Logic] = {}
    labels: dict[int | None, dict[str, dict[str, dict[str, str]]]] = {}
    for version_id, document in documents:  # newest first: its order wins, then fields only older versions had
        # Stored versions were checked when they were recorded: only their leaves and skip logic are needed.
        found = leaves(document)
        paths = [leaf.path for leaf in found]
        sensitive.update(".".join(leaf.path) for leaf in found if sensitivity(leaf.schema))
        names.update(dict.fromkeys(".".join(path) for path in paths))
        rules = build_logic(document, paths)
        if rules.conditional:
            logic[version_id] = rules
        labels[version_id] = {locale: field_labels(document, locale) for locale in locales_of(document)}
    return ExportPlan(selection.form_id, tuple(names), {row.id: row.version for row in stored}, logic, labels,
                      frozenset(sensitive), documents=dict(documents))


async def audit_sensitive_export(engine: AsyncEngine, selection: ResponseFilter, actor: str, kind: str) -> int:
    """Record an export that includes sensitive answers in the audit log (who, which form, how many rows) before
    it starts; return the row count."""
    rows = await count_responses(engine, selection)
    detail = f"{kind} export including sensitive answers" + "".join(
        f"; {name} {value}" for name, value in (("status", ",".join(selection.statuses)),
                                                ("since", selection.since), ("until", selection.until)) if value)
    async with AsyncSession(engine) as session, session.begin():
        await record_audit(session, actor, EXPORT_SENSITIVE, selection.form_id, rows, detail, utc_now())
    return rows


async def count_responses(engine: AsyncEngine, selection: ResponseFilter) -> int:
    """How many responses the selection matches."""
    async with engine.connect() as connection:
        total = await connection.scalar(
            select(func.count()).select_from(Response).where(*selection.conditions()))
    return int(total or 0)


async def response_batches(engine: AsyncEngine, selection: ResponseFilter, *, provenance: bool = False,
                           batch_size: int = BATCH_SIZE) -> AsyncIterator[Sequence[Any]]:
    """Yield the selected responses in export order, `batch_size` rows at a time, each batch its own read.

    Rows are tuples in `_ROW_COLUMNS` order, then the sources, then (with `provenance`) the times the answers
    were heard and their provenance.
    """
    extra = (_SOURCES, _TIMES, _PROVENANCE) if provenance else (_SOURCES,)
    statement = (select(*_ROW_COLUMNS, *extra)
                 .where(*selection.conditions()).order_by(Response.started_at, Response.id).limit(batch_size))
    page = statement
    while True:
        async with engine.connect() as connection:
            rows = (await connection.execute(page)).all()
        if rows:
            yield rows
        if len(rows) < batch_size:
            return
        page = statement.where(keyset_after(rows[-1][7], rows[-1][0]))


async def csv_chunks(engine: AsyncEngine, plan: ExportPlan, selection: ResponseFilter, *,
                     with_sources: bool = False, excel: bool = False, raw: bool = False, labels: bool = False,
                     progress: Progress | None = None) -> AsyncIterator[str]:
    """Yield the CSV export as text chunks, one per batch (the format is in the module doc)."""
    line_end = "\r\n" if excel else "\n"
    header = plan.header(with_sources)
    yield ("\ufeff" if excel else "") + csv_record(header if raw else neutralise_all(header), line_end)
    async for rows in response_batches(engine, selection):
        yield "".join(csv_records(rows, plan, with_sources, raw, line_end, labels))
        if progress is not None:
            progress(len(rows))


async def ndjson_chunks(engine: AsyncEngine, plan: ExportPlan, selection: ResponseFilter, *, labels: bool = False,
                        progress: Progress | None = None) -> AsyncIterator[str]:
    """Yield one JSON object per response: metadata, then typed answers and sources nested as in the form."""
    async for rows in response_batches(engine, selection, provenance=True):
        yield "".join([json.dumps(ndjson_record(row, plan, labels), ensure_ascii=False, separators=(",", ":")) + "\n"
                       for row in rows])
        if progress is not None:
            progress(len(rows))
