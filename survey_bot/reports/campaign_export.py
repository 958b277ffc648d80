"""A campaign's contacts as CSV, one row per contact (the issue's columns, then the list's own), streamed in
keyset batches each in its own short read, formula-safe like the response export (reports/csv_safety)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from survey_bot.campaigns.contacts import EXPORT_COLUMNS
from survey_bot.reports.csv_safety import cell_text, csv_record, export_time, neutralise_all
from survey_bot.storage.campaign_models import CampaignContact
from survey_bot.storage.campaigns import get_campaign

__all__ = ["campaign_csv_chunks", "campaign_export_columns"]

BATCH: Final = 5000


async def campaign_export_columns(session: AsyncSession, campaign_id: str) -> list[str]:
    """The list's own columns, in file order (CampaignNotFound for an unknown id: ask before streaming)."""
    return [str(name) for name in (await get_campaign(session, campaign_id)).columns]


async def campaign_csv_chunks(engine: AsyncEngine, campaign_id: str, columns: list[str]) -> AsyncIterator[str]:
    """The header, then a chunk of records per batch of contacts, in list order."""
    yield csv_record(neutralise_all([*EXPORT_COLUMNS, *columns]), "\n")
    after = 0
    while True:
        async with AsyncSession(engine) as session:
            contacts = list(await session.scalars(
                select(CampaignContact).where(CampaignContact.campaign_id == campaign_id, CampaignContact.id > after)
                .order_by(CampaignContact.id).limit(BATCH)))
        if not contacts:
            return
        after = contacts[-1].id
        yield "".join(csv_record(neutralise_all([
            str(c.id), c.phone, c.timezones, c.locale or "", str(c.attempts), export_time(c.last_attempt_at),
            c.last_outcome or "", c.disposition or "", c.disposition_code or "", c.response_id or "",
            *(cell_text(c.variables.get(name)) for name in columns)]), "\n") for c in contacts)
        if len(contacts) < BATCH:
            return
