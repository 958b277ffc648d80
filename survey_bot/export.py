"""Stream a form's responses as CSV or NDJSON: columns over every version used, keyset batches, the writers.

Rows come from the database in keyset batches on (started_at, id), each batch in its own short read, so an
export of any size holds neither the whole result in memory nor a transaction (SQLite's write lock) open.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json
from sqlalchemy import ColumnElement, String, Text, and_, exists, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .csv_safety import FORMULA_TRIGGERS, cell_text, iso_utc, neutralise
from .forms import Form, nest, parse_form
from .models import FormVersion, Response

__all__ = [
    "META_COLUMNS",
    "STATUSES",
    "ExportPlan",
    "ResponseFilter",
    "UnknownFormError",
    "count_responses",
    "csv_chunks",
    "keyset_after",
    "ndjson_chunks",
    "plan_export",
    "response_batches",
    "to_utc",
]

STATUSES = ("in_progress", "completed", "partial", "abandoned", "failed")
META_COLUMNS = ("response_id", "form_id", "form_version", "status", "direction", "from", "to",
                "started_at", "completed_at")
BATCH_SIZE = 5000
# The columns an export reads, in the order the writers unpack them. Answers, sources and (on SQLite)
# timestamps arrive as the stored text: decoding them here is several times faster than SQLAlchemy's
# per-value processors, which dominated the export's time.
_ROW_COLUMNS = (Response.id, Response.form_id, Response.form_version_id, Response.status, Response.direction,
                Response.from_number, Response.to_number, type_coerce(Response.started_at, String),
                type_coerce(Response.completed_at, String), type_coerce(Response.answers, Text),
                type_coerce(Response.sources, Text))
Progress = Callable[[int], None]


class UnknownFormError(LookupError):
    """No form by that id: neither in the forms folder nor among the stored versions."""

    def __init__(self, form_id: str) -> None:
        self.form_id = form_id
        super().__init__(f"unknown form {form_id!r}: not in the forms folder and no stored versions")


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC; a value without a zone is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
            found.append(Response.started_at >= to_utc(self.since))
        if self.until is not None:
            found.append(Response.started_at < to_utc(self.until))
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
                      current: Form | None) -> ExportPlan:
    """Work out the columns from the versions the selected responses were collected with.

    Without matching responses the header is today's form (or the newest stored version); a form that is
    neither in the forms folder nor stored raises UnknownFormError.
    """
    stored = (await connection.execute(
        select(FormVersion.id, FormVersion.version, FormVersion.document)
        .where(FormVersion.form_id == selection.form_id)
        .order_by(FormVersion.created_at.desc(), FormVersion.id.desc())
    )).all()
    if not stored and current is None:
        raise UnknownFormError(selection.form_id)
    used_ids = set((await connection.execute(
        select(FormVersion.id).where(
            FormVersion.form_id == selection.form_id,
            exists().where(Response.form_version_id == FormVersion.id, *selection.conditions()),
        )
    )).scalars())
    documents = [(version, document) for version_id, version, document in stored if version_id in used_ids]
    if not documents:
        documents = [(current.version, current.document)] if current is not None else [stored[0][1:]]
    names: dict[str, None] = {}
    for version, document in documents:  # newest first: its order wins, older-only fields follow
        if current is not None and version == current.version:
            form = current
        else:
            form = parse_form(dict(document), selection.form_id, f"<stored version {version[:12]}>")
        names.update(dict.fromkeys(field.name for field in form.fields))
    return ExportPlan(selection.form_id, tuple(names), {row[0]: row[1] for row in stored})


async def count_responses(engine: AsyncEngine, selection: ResponseFilter) -> int:
    """How many responses the selection matches."""
    async with engine.connect() as connection:
        total = await connection.scalar(
            select(func.count()).select_from(Response).where(*selection.conditions()))
    return int(total or 0)


async def response_batches(engine: AsyncEngine, selection: ResponseFilter,
                           batch_size: int = BATCH_SIZE) -> AsyncIterator[Sequence[Any]]:
    """Yield the selected responses in export order, `batch_size` rows at a time, each batch its own read."""
    statement = (select(*_ROW_COLUMNS).where(*selection.conditions())
                 .order_by(Response.started_at, Response.id))
    after: ColumnElement[bool] | None = None
    while True:
        page = statement if after is None else statement.where(after)
        async with engine.connect() as connection:
            rows = (await connection.execute(page.limit(batch_size))).all()
        if rows:
            yield rows
        if len(rows) < batch_size:
            return
        after = keyset_after(rows[-1][7], rows[-1][0])


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


async def csv_chunks(engine: AsyncEngine, plan: ExportPlan, selection: ResponseFilter, *,
                     with_sources: bool = False, excel: bool = False, raw: bool = False,
                     progress: Progress | None = None) -> AsyncIterator[str]:
    """Yield the CSV export as text chunks (one per batch); see the module doc for the format."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if excel else "\n")
    header = plan.header(with_sources)
    writer.writerow(header if raw else [neutralise(name) for name in header])
    yield ("\ufeff" if excel else "") + _take(buffer)
    async for rows in response_batches(engine, selection):
        writer.writerows(_csv_rows(rows, plan, with_sources, raw))
        if progress is not None:
            progress(len(rows))
        yield _take(buffer)


def _csv_rows(rows: Sequence[Any], plan: ExportPlan, with_sources: bool, raw: bool) -> list[list[str]]:
    fields, versions, triggers = plan.fields, plan.versions, FORMULA_TRIGGERS
    out = []
    for rid, form_id, version_id, status, direction, from_, to, started, completed, answers, sources in rows:
        values = from_json(answers)
        cells = [rid, form_id, versions.get(version_id, ""), status, direction, from_ or "", to or "",
                 iso_utc(started), iso_utc(completed)]
        # Most answers are strings: skip the call for them (this loop runs once per exported row).
        cells.extend([v if type(v) is str else cell_text(v) for v in map(values.get, fields)])
        if with_sources:
            cells.extend([cell_text(v) for v in map(from_json(sources).get, fields)])
        if not raw and not triggers.isdisjoint([cell[:1] for cell in cells]):
            cells = [neutralise(cell) for cell in cells]
        out.append(cells)
    return out


async def ndjson_chunks(engine: AsyncEngine, plan: ExportPlan, selection: ResponseFilter, *,
                        progress: Progress | None = None) -> AsyncIterator[str]:
    """Yield one JSON object per response: metadata, then typed answers and sources nested as in the form."""
    async for rows in response_batches(engine, selection):
        lines = [json.dumps(_record(row, plan.versions), ensure_ascii=False, separators=(",", ":")) + "\n"
                 for row in rows]
        if progress is not None:
            progress(len(rows))
        yield "".join(lines)


def _record(row: Any, versions: Mapping[int, str]) -> dict[str, Any]:
    rid, form_id, version_id, status, direction, from_, to, started, completed, answers, sources = row
    return {
        "response_id": rid, "form_id": form_id, "form_version": versions.get(version_id),
        "status": status, "direction": direction, "from": from_, "to": to,
        "started_at": iso_utc(started), "completed_at": iso_utc(completed) or None,
        "answers": nest(from_json(answers)), "sources": nest(from_json(sources)),
    }
