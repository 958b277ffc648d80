"""Stream a form's responses as FHIR NDJSON: one QuestionnaireResponse per line (reports.fhir_response writes it).

The same keyset batches, the same rows and the same rules as the NDJSON export (reports.export, export_rows:
skip logic per form version, declined answers, sensitive answers left out unless included and audited); only
the shape differs. Failed responses (no call was held) are not exported.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from survey_bot.reports.export import Progress, ResponseFilter, audit_sensitive_export, response_batches
from survey_bot.reports.export_rows import ExportPlan, ndjson_record
from survey_bot.reports.fhir_response import FHIR_STATUS, Item, form_items, questionnaire_of, questionnaire_response
from survey_bot.vocabulary import STATUSES

__all__ = ["MEDIA_TYPE", "audit_fhir_export", "fhir_chunks", "fhir_selection"]

MEDIA_TYPE = "application/fhir+ndjson"


def fhir_selection(selection: ResponseFilter) -> ResponseFilter | None:
    """The responses a FHIR export holds: those selected that have a FHIR status (None: only failed ones were
    asked for, so none)."""
    statuses = tuple(status for status in selection.statuses or STATUSES if status in FHIR_STATUS)
    return dataclasses.replace(selection, statuses=statuses) if statuses else None


async def audit_fhir_export(engine: AsyncEngine, selection: ResponseFilter, actor: str) -> int:
    """Record a FHIR export including sensitive answers in the audit log, counting the responses it holds."""
    exported = fhir_selection(selection)
    return 0 if exported is None else await audit_sensitive_export(engine, exported, actor, "fhir")


async def fhir_chunks(engine: AsyncEngine, plan: ExportPlan, selection: ResponseFilter, *,
                      progress: Progress | None = None) -> AsyncIterator[str]:
    """Yield the QuestionnaireResponses as NDJSON text, one chunk per batch of responses."""
    exported = fhir_selection(selection)
    if exported is None:
        return
    shapes: dict[Any, tuple[tuple[Item, ...], str]] = {}
    async for rows in response_batches(engine, exported, provenance=True):
        lines = []
        for row in rows:
            version_id = row[1]
            shape = shapes.get(version_id)
            if shape is None:
                document = plan.documents.get(version_id) or next(iter(plan.documents.values()), None) or {}
                shape = shapes[version_id] = (form_items(document), questionnaire_of(document, plan.form_id))
            resource = questionnaire_response(ndjson_record(row, plan), *shape)
            lines.append(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
        yield "".join(lines)
        if progress is not None:
            progress(len(rows))
