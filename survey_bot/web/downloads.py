"""The one download builder: a form's export streamed as an attachment, for the API and the dashboard alike."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from quart import Response

from survey_bot.reports.export import (
    ResponseFilter,
    audit_sensitive_export,
    csv_chunks,
    ndjson_chunks,
    plan_export,
)
from survey_bot.reports.fhir_export import MEDIA_TYPE as FHIR_MEDIA_TYPE
from survey_bot.reports.fhir_export import audit_fhir_export, fhir_chunks
from survey_bot.utc import now as utc_now
from survey_bot.web.state import AppState

__all__ = ["CsvOptions", "export_download", "filename"]

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson; charset=utf-8",
               "fhir": f"{FHIR_MEDIA_TYPE}; charset=utf-8"}
EXTENSIONS = {"csv": "csv", "ndjson": "ndjson", "fhir": "fhir.ndjson"}


@dataclass(frozen=True)
class CsvOptions:
    """The CSV writer's options (see reports.export)."""

    with_sources: bool = False
    excel: bool = False
    raw: bool = False


def filename(form_id: str, extension: str) -> str:
    """`<form id>-<UTC stamp>.<extension>`, with anything a file name or header should not hold replaced."""
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', form_id)}-{stamp}.{extension}"


async def export_download(app_state: AppState, selection: ResponseFilter, kind: str,
                          options: CsvOptions | None = None, *, labels: bool = False,
                          sensitive_for: str | None = None) -> Response:
    """Stream the selected responses as CSV, NDJSON or FHIR NDJSON (`labels`: choices as their labels;
    `sensitive_for`: the actor an export including sensitive answers is audited as, None leaves them out); raises
    UnknownFormError for a form that is nowhere."""
    options = options or CsvOptions()
    current = app_state.catalog.forms.get(selection.form_id)
    async with app_state.engine.connect() as connection:
        plan = await plan_export(connection, selection, lambda: current.document if current else None)
    if sensitive_for is not None:
        plan = dataclasses.replace(plan, include_sensitive=True)
        if kind == "fhir":
            await audit_fhir_export(app_state.engine, selection, sensitive_for)
        else:
            await audit_sensitive_export(app_state.engine, selection, sensitive_for, kind)
    chunks: AsyncIterator[str] = (
        csv_chunks(app_state.engine, plan, selection, with_sources=options.with_sources, excel=options.excel,
                   raw=options.raw, labels=labels) if kind == "csv"
        else fhir_chunks(app_state.engine, plan, selection) if kind == "fhir"
        else ndjson_chunks(app_state.engine, plan, selection, labels=labels))

    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield chunk.encode("utf-8")

    response = Response(body(), 200, content_type=MEDIA_TYPES[kind])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(selection.form_id, EXTENSIONS[kind])}"'
    response.headers["Cache-Control"] = "no-store"
    if options.raw:
        response.headers["X-Formula-Neutralisation"] = "off"
    response.timeout = None  # a large export may take longer than RESPONSE_TIMEOUT; it streams all along
    return response
