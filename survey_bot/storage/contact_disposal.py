"""A campaign contact's final disposition, given in one place: the contact is done with disposition_of over its
attempts (plus an outcome the campaign adds, such as quota_full), and `contact.disposed` is queued for the
outbound webhooks in the same transaction (so the webhook goes if and only if the disposition is committed).
Functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.campaigns.dispositions import disposition_of
from survey_bot.storage.campaign_dialing import DONE, outcomes_by_contact
from survey_bot.storage.campaign_models import CampaignContact
from survey_bot.storage.webhook_outbox import CONTACT_DISPOSED, enqueue_events

__all__ = ["Disposed", "announce", "dispose"]


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
                  extra: Sequence[str] = ()) -> None:
    """Make each contact (locked by the caller) done with its final disposition, and announce it."""
    outcomes = await outcomes_by_contact(session, [contact.id for contact in contacts])
    disposed = []
    for contact in contacts:
        contact.state, contact.next_attempt_at = DONE, None
        contact.disposition, contact.disposition_code = disposition_of([*outcomes[contact.id], *extra])
        disposed.append(Disposed(contact.id, contact.campaign_id, contact.phone, contact.disposition,
                                 contact.disposition_code, contact.response_id))
    await announce(session, disposed, now)
