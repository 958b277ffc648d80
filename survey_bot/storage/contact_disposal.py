"""A campaign contact's final disposition, given in one place: the contact is done with disposition_of over its
attempts (plus an outcome the campaign adds, such as quota_full), and `contact.disposed` is queued for the
outbound webhooks in the same transaction (so the webhook goes if and only if the disposition is committed).
Functions take a session and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.campaigns.dispositions import disposition_of
from survey_bot.storage.campaign_dialing import DONE, outcomes_by_contact
from survey_bot.storage.campaign_models import CampaignContact
from survey_bot.storage.webhook_outbox import CONTACT_DISPOSED, enqueue_events

__all__ = ["Disposed", "announce", "dispose"]

_CHUNK = 1000  # ids per statement (well under SQLite's bound parameters)


@dataclass(frozen=True)
class Disposed:
    """One contact's final disposition, as `contact.disposed` carries it."""

    contact_id: int
    campaign_id: str
    phone: str
    disposition: str
    disposition_code: str
    response_id: str | None  # None when nobody answered

    def payload(self) -> dict[str, Any]:
        return {"contact_id": self.contact_id, "campaign_id": self.campaign_id, "phone": self.phone,
                "disposition": self.disposition, "disposition_code": self.disposition_code,
                "response_id": self.response_id}


async def announce(session: AsyncSession, disposed: Sequence[Disposed], now: datetime) -> None:
    """Queue `contact.disposed` for each (one statement for them all)."""
    await enqueue_events(session, CONTACT_DISPOSED, [d.payload() for d in disposed], now)


async def dispose(session: AsyncSession, contacts: Sequence[CampaignContact], now: datetime,
                  extra: Sequence[str] = ()) -> list[Disposed]:
    """Make each contact done with its final disposition (disposition_of over its attempts, plus `extra`) unless it
    already has one, and announce those this call disposed; return them.

    Once only: an UPDATE ... WHERE disposition IS NULL RETURNING per disposition, so a call's end and a cancel
    meeting on one contact never dispose (nor announce) it twice."""
    outcomes = await outcomes_by_contact(session, [contact.id for contact in contacts])
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for contact in contacts:
        groups[disposition_of([*outcomes[contact.id], *extra])].append(contact.id)
    disposed: list[Disposed] = []
    for (slug, code), ids in groups.items():
        for start in range(0, len(ids), _CHUNK):
            result = await session.execute(
                update(CampaignContact)
                .where(CampaignContact.id.in_(ids[start:start + _CHUNK]), CampaignContact.disposition.is_(None))
                .values(state=DONE, next_attempt_at=None, disposition=slug, disposition_code=code)
                .returning(CampaignContact.id, CampaignContact.campaign_id, CampaignContact.phone,
                           CampaignContact.response_id).execution_options(synchronize_session=False))
            disposed += [Disposed(row.id, row.campaign_id, row.phone, slug, code, row.response_id) for row in result]
    done = {d.contact_id for d in disposed}
    for contact in contacts:  # the objects read what the rows now say (a flush writes nothing over them)
        if contact.id in done:
            session.expire(contact)
    await announce(session, sorted(disposed, key=lambda d: d.contact_id), now)
    return disposed
