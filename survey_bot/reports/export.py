"""Stream a form's responses as CSV or NDJSON: columns over every version used, keyset batches, the writers.

Rows come from the database in keyset batches on (started_at, id), each batch in its own short read, so an
export of any size holds neither the whole result in memory nor a transaction (SQLite's write lock) open.

CSV: `META_COLUMNS`, one column per field (dotted names, newest version's order, then fields only older
versions had), then with sources a `<field>.source` per field; values as `csv_safety.cell_text` writes
them; formula-like cells neutralised unless raw; `excel` adds a BOM and CRLF line ends.
NDJSON: one object per response with the metadata, `answers` and `sources` nested as in the form.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import from_json
from sqlalchemy import ColumnElement, String, Text, and_, cast, exists, func, null, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from survey_bot.forms.answers import nest
from survey_bot.forms.schema_walk import leaves
from survey_bot.reports.csv_safety import cell_text, csv_record, export_time, neutralise, neutralise_all
from survey_bot.storage.models import FormVersion, Response
from survey_bot.utc import as_utc

__all__ = [
    "META_COLUMNS",
    "ExportPlan",
    "ResponseFilter",
    "UnknownFormError",
    "count_responses",
    "csv_chunks",
    "keyset_after",
    "ndjson_chunks",
    "plan_export",
    "response_batches",
]

META_COLUMNS = ("response_id", "form_id", "form_version", "status", "direction", "from", "to",
                "started_at", "completed_at")
BATCH_SIZE = 5000
# The columns an export reads, in the order the writers unpack them (then the sources or NULL). Answers,
# sources and (on SQLite) timestamps arrive as the stored text: decoding them here is several times faster
# than SQLAlchemy's per-value processors, which took most of the export's time. JSON is cast in SQL
# because asyncpg would decode it itself; PostgreSQL's timestamps still arrive as datetimes.
_ROW_COLUMNS = (Response.id, Response.form_version_id, Response.status, Response.direction,
                Response.from_number, Response.to_number, type_coerce(Response.started_at, String),
                type_coerce(Response.completed_at, String), cast(Response.answers, Text))
_SOURCES = cast(Response.sources, Text)
Progress = Callable[[int], None]


class UnknownFormError(LookupError):
    """No form by that id: neither in the forms folder nor among the stored versions."""

    def __init__(self, form_id: str) -> None:
        self.form_id = form_id
        super().__init__(f"unknown form {form_id!r}: not in the forms folder and no stored versions")


@dataclass(frozen=True)
class ResponseFilter:
    """Which responses of a form: any of `statuses` (all when empty), started in [since, until)."""

    form_id: str
    statuses: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions selecting these responses."""
        found: list[ColumnElement[bool]] = [Response.form_id == self.form_id]
        if self.statuses:
            found.append(Response.status.in_(self.statuses))
        if self.since is not None:
            found.append(Response.started_at >= as_utc(self.since))
        if self.until is not None:
            found.append(Response.started_at < as_utc(self.until))
        return found


def keyset_after(started_at: datetime | str, response_id: str) -> ColumnElement[bool]:
    """Rows strictly after (started_at, id) in export order: no gaps or repeats while rows are added."""
    if isinstance(started_at, str):  # SQLite's stored text, as the export reads it
        started_at = datetime.fromisoformat(started_at)
    # The redundant `>=` lets SQLite (with bound parameters) seek the (form_id, started_at) index instead
    # of scanning the form's rows from the start on every batch.
    return and_(Response.started_at >= started_at,
                or_(Response.started_at > started_at, Response.id > response_id))


@dataclass(frozen=True)
class ExportPlan:
    """An export's columns: every field of every version used (newest version's order first)."""

    form_id: str
    fields: tuple[str, ...]
    versions: Mapping[int, str]  # FormVersion.id -> version hash

    def header(self, with_sources: bool = False) -> list[str]:
        """The CSV header row."""
        sources = [f"{name}.source" for name in self.fields] if with_sources else []
        return [*META_COLUMNS, *self.fields, *sources]


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
    documents = [document for version_id, _version, document in stored if version_id in used_ids]
    if not documents:
        today = current()
        if today is None and not stored:
            raise UnknownFormError(selection.form_id)
        documents = [today if today is not None else stored[0].document]
    names: dict[str, None] = {}
    for document in documents:  # newest first: its order wins, then fields only older versions had
        # Stored versions were checked when they were recorded: only their leaf names are needed here.
        names.update(dict.fromkeys(".".join(leaf.path) for leaf in leaves(document)))
    return ExportPlan(selection.form_id, tuple(names), {row.id: row.version for row in stored})


async def count_responses(engine: AsyncEngine, selection: ResponseFilter) -> int:
    """How many responses the selection matches."""
    async with engine.connect() as connection:
        total = await connection.scalar(
            select(func.count()).select_from(Response).where(*selection.conditions()))
    return int(total or 0)


async def response_batches(engine: AsyncEngine, selection: ResponseFilter, *, with_sources: bool = True,
                           batch_size: int = BATCH_SIZE) -> AsyncIterator[Sequence[Any]]:
    """Yield the selected responses in export order, `batch_size` rows at a time, each batch its own read.

    Rows are tuples in `_ROW_COLUMNS` order, then the sources (None unless `with_sources`).
    """
    statement = (select(*_ROW_COLUMNS, _SOURCES if with_sources else null())
                 .where(*selection.conditions()).order_by(Response.started_at, Response.id).limit(batch_size))
    page = statement
    while True:
        async with engine.connect() as connection:
            rows = (await connection.execute(page)).all()
        if rows:
            yield rows
        if len(rows) < batch_size:
            return
        page = statement.where(keyset_after(rows[-1][6], rows[-1][0]))


async def csv_chunks(engine: AsyncEngine, plan: ExportPlan, selection: ResponseFilter, *,
                     with_sources: bool = False, excel: bool = False, raw: bool = False,
                     progress: Progress | None = None) -> AsyncIterator[str]:
    """Yield the CSV export as text chunks, one per batch (the format is in the module doc)."""
    line_end = "\r\n" if excel else "\n"
    header = plan.header(with_sources)
    yield ("\ufeff" if excel else "") + csv_record(header if raw else neutralise_all(header), line_end)
    async for rows in response_batches(engine, selection, with_sources=with_sources):
        yield "".join(_csv_records(rows, plan, with_sources, raw, line_end))
        if progress is not None:
            progress(len(rows))


def _csv_records(rows: Sequence[Any], plan: ExportPlan, with_sources: bool, raw: bool,
                 line_end: str) -> list[str]:
    form_id, fields, versions = plan.form_id, plan.fields, plan.versions
    safe = (lambda cell: cell) if raw else neutralise
    out = []
    for rid, version_id, status, direction, from_, to, started, completed, answers, sources in rows:
        values = from_json(answers)
        # Most answers are strings: skip the call for them (this loop runs once per exported row).
        texts = [v if type(v) is str else cell_text(v) for v in map(values.get, fields)]
        # Only the numbers and the answers can carry a formula: the rest are ids, enums and timestamps.
        cells = [rid, form_id, versions.get(version_id, ""), status, direction, safe(from_ or ""),
                 safe(to or ""), export_time(started), export_time(completed),
                 *(texts if raw else neutralise_all(texts))]
        if with_sources:
            cells.extend([cell_text(v) for v in map(from_json(sources).get, fields)])
        out.append(csv_record(cells, line_end))
    return out


async def ndjson_chunks(engine: AsyncEngine, plan: ExportPlan, selection: ResponseFilter, *,
                        progress: Progress | None = None) -> AsyncIterator[str]:
    """Yield one JSON object per response: metadata, then typed answers and sources nested as in the form."""
    async for rows in response_batches(engine, selection):
        yield "".join([json.dumps(_record(row, plan), ensure_ascii=False, separators=(",", ":")) + "\n"
                       for row in rows])
        if progress is not None:
            progress(len(rows))


def _record(row: Any, plan: ExportPlan) -> dict[str, Any]:
    rid, version_id, status, direction, from_, to, started, completed, answers, sources = row
    return {
        "response_id": rid, "form_id": plan.form_id, "form_version": plan.versions.get(version_id),
        "status": status, "direction": direction, "from": from_, "to": to,
        "started_at": export_time(started), "completed_at": export_time(completed) or None,
        "answers": nest(from_json(answers)), "sources": nest(from_json(sources)),
    }
