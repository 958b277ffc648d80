"""The campaign scheduler inside `survey-bot serve`: every few tenths of a second, for each running campaign,
dial the contacts that are due, inside their window, not suppressed, within the campaign's limits.

Safe with several workers and hosts. Each round locks the campaign's row (FOR UPDATE SKIP LOCKED: a worker
that finds it held leaves that campaign to the holder this round), so the limits are counted over every
worker at once: concurrency is the campaign's contacts in state `dialing` (a contact is `dialing` from the
moment its attempt is queued until its call's end is mapped back, so never two calls to one contact), and the
rate is planned on a shared clock, `last_dial_at`: dials are given slots a send gap apart and the outbox holds
each until its slot. The plan spreads the work; the rate itself is enforced when dials are sent
(storage.send_pacing, on the campaign's send clock), where a late dispatcher cannot turn it into a burst.
Contacts are claimed FOR UPDATE SKIP LOCKED. On SQLite every transaction holds the write lock, so one writer
at a time does all this. The window and the do-not-call list are checked at dial time, never
trusted from the time a contact was queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from survey_bot.campaigns.dispositions import QUOTA_FULL
from survey_bot.campaigns.window import is_open, next_opening, zones_of
from survey_bot.config import Settings
from survey_bot.forms.model import FormCatalog
from survey_bot.jobs.campaign_dial import place_dial
from survey_bot.periodic import Periodic
from survey_bot.storage import campaign_dialing as store
from survey_bot.storage import outbox
from survey_bot.storage.campaign_models import Campaign
from survey_bot.storage.contact_disposal import dispose
from survey_bot.storage.form_versions import form_version_id
from survey_bot.storage.send_pacing import send_gap
from survey_bot.storage.suppressions import suppressions_of
from survey_bot.utc import as_utc
from survey_bot.utc import now as utc_now

__all__ = ["INTERVAL", "Scheduler"]

log = logging.getLogger(__name__)
INTERVAL = 0.2  # seconds between rounds
_MAX_PER_ROUND = 500
_EVER = timedelta(days=3650)  # "whenever due": every waiting contact  # dials one round may queue for one campaign
_NEVER_OPEN = timedelta(hours=1)  # a contact whose window never opens within a week is looked at again then


class Scheduler:
    """Dials running campaigns' due contacts every `interval` seconds until stopped."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: FormCatalog, settings: Settings,
                 on_dial: Callable[[], None] = lambda: None, interval: float = INTERVAL) -> None:
        self._sessions, self._catalog, self._settings = sessions, catalog, settings
        self.on_dial = on_dial  # called after a round that queued dials (wakes the dispatcher)
        self.interval = interval
        self._loop = Periodic("scheduler", self.run_once)

    def start(self) -> None:
        """Start the rounds in the background."""
        self._loop.start(self.interval)

    async def stop(self) -> None:
        """Stop; a round under way ends with its transaction (committed or rolled back)."""
        await self._loop.stop()

    async def run_once(self, now: datetime | None = None) -> int:
        """One round over every running campaign; return how many dials it queued."""
        async with self._sessions() as session:
            campaign_ids = await store.running_ids(session)
        dialed = 0
        for campaign_id in campaign_ids:
            async with self._sessions() as session, session.begin():
                dialed += await self._round(session, campaign_id, now or utc_now())
        if dialed:
            self.on_dial()
        return dialed

    async def _round(self, session: AsyncSession, campaign_id: str, now: datetime) -> int:
        campaign = await store.lock_running(session, campaign_id)
        if campaign is None:
            return 0
        form = self._catalog.forms.get(campaign.form_id)
        if form is None:
            log.warning("campaign %s: form %r is not in the forms folder; not dialling", campaign.id,
                        campaign.form_id)
            return 0
        if campaign.quota is not None and await store.completes(session, campaign.id) >= campaign.quota:
            await _quota_full(session, campaign, now)
            return 0
        slots = _slots(campaign, now, campaign.concurrency - await store.in_flight(session, campaign.id))
        if not slots:
            return 0
        contacts = await store.claim_due(session, campaign.id, now, min(_MAX_PER_ROUND, 2 * len(slots) + 10))
        blocked = {entry.phone for entry in await suppressions_of(session, [c.phone for c in contacts])}
        dialed, rows, version_id = 0, [], await form_version_id(session, form, now)
        for contact in contacts:
            if dialed == len(slots):
                break
            if contact.phone in blocked:  # put on the list since it was queued: done with what its attempts came to
                await dispose(session, [contact], now)
                continue
            zones = zones_of(contact.timezones)
            if not is_open(now, zones, campaign.window_start, campaign.window_end, campaign.days):
                opening = next_opening(now, zones, campaign.window_start, campaign.window_end, campaign.days)
                contact.next_attempt_at = opening or now + _NEVER_OPEN
                continue
            rows += await place_dial(session, campaign, contact, form, self._settings, slots[dialed], now, version_id)
            dialed += 1
        if dialed:
            await outbox.enqueue(session, rows)
            campaign.last_dial_at = slots[dialed - 1]
        elif not contacts:
            await store.finish_if_done(session, campaign.id, now)
        return dialed


def _slots(campaign: Campaign, now: datetime, room: int) -> list[datetime]:
    """When the next dials may go (at most `room`): a send gap apart after the last one (the gap the dispatchers
    enforce), never earlier than now, up to one round ahead (the outbox holds each dial until its slot)."""
    if room <= 0 or campaign.rate <= 0:
        return []
    gap = send_gap(campaign.rate)
    last = as_utc(campaign.last_dial_at) if campaign.last_dial_at is not None else None
    slot = now if last is None or last + gap < now else last + gap
    horizon = now + timedelta(seconds=INTERVAL)
    found: list[datetime] = []
    while slot < horizon and len(found) < min(room, _MAX_PER_ROUND):
        found.append(slot)
        slot += gap
    return found


async def _quota_full(session: AsyncSession, campaign: Campaign, now: datetime) -> None:
    """Enough completes: no contact is dialled again; those waiting are done as quota-full (or, if a person was
    reached on an earlier attempt, as what that attempt came to); the campaign ends with its last call."""
    waiting = await store.claim_due(session, campaign.id, now + _EVER, 100_000)
    await dispose(session, waiting, now, extra=(QUOTA_FULL,))
    await session.flush()
    await store.finish_if_done(session, campaign.id, now)
