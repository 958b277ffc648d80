"""What an outbound webhook carries as `data`: a response as the NDJSON export writes it (sensitive answers only
for an endpoint added with --include-sensitive), or the event's own payload (contact.disposed)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from survey_bot.jobs.webhooks import Render
from survey_bot.reports.export import ResponseFilter, plan_export, response_batches
from survey_bot.reports.export_rows import ndjson_record
from survey_bot.storage.models import Response
from survey_bot.storage.webhook_outbox import Due

__all__ = ["renderer", "response_record"]


async def response_record(engine: AsyncEngine, response_id: str, include_sensitive: bool) -> dict[str, Any] | None:
    """One response's NDJSON export object (None: no such response)."""
    async with engine.connect() as connection:
        form_id = await connection.scalar(select(Response.form_id).where(Response.id == response_id))
        if form_id is None:
            return None
        selection = ResponseFilter(form_id, response_ids=(response_id,))
        plan = await plan_export(connection, selection, lambda: None)
    plan = dataclasses.replace(plan, include_sensitive=include_sensitive)
    async for rows in response_batches(engine, selection, provenance=True, batch_size=1):
        return ndjson_record(rows[0], plan)
    return None


def renderer(engine: AsyncEngine) -> Render:
    """The job's Render on this database."""

    async def render(due: Due) -> dict[str, Any] | None:
        if due.event_type.startswith("response.") and due.response_id is not None:
            return await response_record(engine, due.response_id, due.include_sensitive)
        return due.payload

    return render
