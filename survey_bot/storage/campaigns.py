"""Campaigns in the store: create one and import its list in batches (one transaction: a failed import leaves
nothing), and move it through its states (start, pause, resume, cancel) under a row lock.

A cancelled campaign's waiting contacts get their final disposition at once (disposition_of over their attempts;
never dialled -> not_attempted); those on a call get theirs when it ends (storage.campaign_cancel).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot import json_codec
from survey_bot.campaigns.contacts import Contact, ContactReader, Duplicate, Rejected, decoded_lines, read_contacts
from survey_bot.campaigns.settings import CampaignSettings
from survey_bot.storage.campaign_cancel import dispose_waiting, stop_calls
from survey_bot.storage.campaign_models import Campaign, CampaignContact, Suppression

__all__ = ["ACTIONS", "BATCH", "CampaignNotFound", "ImportSummary", "TransitionRefused", "create_campaign",
           "get_campaign", "import_campaign", "transition"]

BATCH: Final = 2000  # rows per parse in a worker thread, per INSERT and per suppression lookup
KEEP_DETAILS: Final = 1000  # rejected/duplicate/suppressed rows kept with their line (the rest only counted)
# action -> (states it may start from, state it leads to)
ACTIONS: Final = {
    "start": (frozenset({"draft"}), "running"),
    "pause": (frozenset({"running"}), "paused"),
    "resume": (frozenset({"paused"}), "running"),
    "cancel": (frozenset({"draft", "running", "paused"}), "cancelled"),
}


class CampaignNotFound(LookupError):
    """No campaign has this id."""


class TransitionRefused(ValueError):
    """The campaign's state does not allow the action (resume a running campaign, start a cancelled one)."""


@dataclass
class ImportSummary:
    """What an import did: contacts imported; rows rejected, merged as duplicates, or on the suppression list
    (counted in full; the first KEEP_DETAILS of each kept with their line)."""

    campaign_id: str = ""
    imported: int = 0
    rejected: int = 0
    duplicates: int = 0
    suppressed: int = 0
    rejected_rows: list[Rejected] = field(default_factory=list)
    duplicate_rows: list[Duplicate] = field(default_factory=list)
    suppressed_rows: list[tuple[int, str]] = field(default_factory=list)  # (line, phone)
    header: list[str] = field(default_factory=list)  # the list's columns, as the contacts keep them

    def note(self, row: Rejected | Duplicate) -> None:
        if isinstance(row, Rejected):
            self.rejected += 1
            if len(self.rejected_rows) < KEEP_DETAILS:
                self.rejected_rows.append(row)
        else:
            self.duplicates += 1
            if len(self.duplicate_rows) < KEEP_DETAILS:
                self.duplicate_rows.append(row)


async def create_campaign(session: AsyncSession, *, form_id: str, name: str, settings: CampaignSettings,
                          caller_id: str | None, reader: ContactReader,
                          rows: Iterable[Contact | Rejected | Duplicate], now: datetime) -> ImportSummary:
    """Store a draft campaign and import its list (in the caller's transaction); ListError from `rows` aborts."""
    campaign = Campaign(
        id=str(uuid.uuid4()), name=name, form_id=form_id, status="draft", window_start=settings.window_start,
        window_end=settings.window_end, days=settings.days, max_attempts=settings.max_attempts,
        retry_after_seconds=settings.retry_after_seconds, concurrency=settings.concurrency, rate=settings.rate,
        amd=settings.amd, voicemail=settings.voicemail, quota=settings.quota, locale=settings.locale,
        default_region=settings.default_region, caller_id=caller_id, columns=list(reader.columns), created_at=now)
    session.add(campaign)
    await session.flush()
    summary = ImportSummary(campaign_id=campaign.id, header=list(reader.header))
    batches = _batches(rows, summary)
    # each batch is read and parsed in a worker thread: a 50,000-row list never holds the event loop for long
    while (batch := await asyncio.to_thread(next, batches, None)) is not None:
        await _insert(session, campaign.id, batch, summary, now)
    return summary


def _batches(rows: Iterable[Contact | Rejected | Duplicate], summary: ImportSummary) -> Iterator[list[Contact]]:
    """The contacts in batches of BATCH; rejected and duplicate rows are counted on the way."""
    batch: list[Contact] = []
    for row in rows:
        if isinstance(row, Contact):
            batch.append(row)
            if len(batch) == BATCH:
                yield batch
                batch = []
        else:
            summary.note(row)
    if batch:
        yield batch


async def _insert(session: AsyncSession, campaign_id: str, batch: list[Contact], summary: ImportSummary,
                  now: datetime) -> None:
    suppressed = set(await session.scalars(
        select(Suppression.phone).where(Suppression.phone.in_([contact.phone for contact in batch]))))
    values: list[dict[str, Any]] = []
    for contact in batch:
        if contact.phone in suppressed:  # never dialled, and reported
            summary.suppressed += 1
            if len(summary.suppressed_rows) < KEEP_DETAILS:
                summary.suppressed_rows.append((contact.line, contact.phone))
            continue
        values.append({"campaign_id": campaign_id, "line": contact.line, "phone": contact.phone,
                       "timezones": contact.timezones, "locale": contact.locale, "name": contact.name,
                       "variables": contact.variables, "state": "pending", "attempts": 0, "next_attempt_at": now})
    if values:
        await _write_contacts(session, values)
        summary.imported += len(values)


async def _write_contacts(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    """Insert contact rows the fastest way each database has: PostgreSQL's COPY (through asyncpg, in the session's
    transaction), else one Core executemany (the ORM's bulk insert spent more time than SQLite did)."""
    connection = await session.connection()
    if connection.dialect.driver != "asyncpg":
        await connection.execute(insert(CampaignContact), values)
        return
    columns = list(values[0])
    records = [tuple(json_codec.dumps(row[name]) if name == "variables" else row[name] for name in columns)
               for row in values]
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None  # a live connection in this transaction
    await driver.copy_records_to_table(CampaignContact.__tablename__, columns=columns,
                                                      records=records)


async def get_campaign(session: AsyncSession, campaign_id: str, *, lock: bool = False) -> Campaign:
    """The campaign (row-locked on PostgreSQL with `lock`), or CampaignNotFound."""
    query = select(Campaign).where(Campaign.id == campaign_id)
    campaign = await session.scalar(query.with_for_update() if lock else query)
    if campaign is None:
        raise CampaignNotFound(f"no campaign {campaign_id!r}")
    return campaign


async def transition(session: AsyncSession, campaign_id: str, action: str, now: datetime) -> Campaign:
    """Apply `action` (a key of ACTIONS) in the caller's transaction; TransitionRefused says why not."""
    campaign = await get_campaign(session, campaign_id, lock=True)
    sources, target = ACTIONS[action]
    if campaign.status not in sources:
        allowed = " or ".join(sorted(sources))
        raise TransitionRefused(f"campaign {campaign_id} is {campaign.status}: only a {allowed} campaign can "
                                f"{action}")
    campaign.status = target
    if action == "start":
        campaign.started_at = now
    if action == "cancel":
        campaign.ended_at = now
        await stop_calls(session, campaign_id, now)  # its calls end as calls do (storage.campaign_cancel)
        await dispose_waiting(session, campaign_id, now)
    return campaign


async def import_campaign(session: AsyncSession, raw_lines: Iterable[bytes], *, form_id: str, name: str,
                          settings: CampaignSettings, caller_id: str | None, now: datetime) -> ImportSummary:
    """Read a CSV list (binary lines, streamed) and store it as a new draft campaign, in the caller's
    transaction; ListError (the file as a whole is unreadable) before or during the import leaves nothing."""
    reader, rows = read_contacts(decoded_lines(raw_lines), default_region=settings.default_region,
                                 default_locale=settings.locale)
    return await create_campaign(session, form_id=form_id, name=name, settings=settings, caller_id=caller_id,
                                 reader=reader, rows=rows, now=now)
