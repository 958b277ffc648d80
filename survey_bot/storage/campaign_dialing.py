"""The scheduler's queries: lock a running campaign (its row is the shared clock and counter every worker and
host serialises on), count its calls in flight, claim its due contacts with SKIP LOCKED (the do-not-call list is
storage.suppressions'). Functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.campaigns.dispositions import COMPLETE
from survey_bot.storage.campaign_models import Campaign, CampaignContact, ContactAttempt

__all__ = ["DIALING", "DONE", "PENDING", "RUNNING", "claim_due", "completes", "finish_if_done", "in_flight",
           "lock_running", "outcomes_by_contact", "running_ids"]

PENDING, DIALING, DONE = "pending", "dialing", "done"
RUNNING, FINISHED = "running", "finished"


async def running_ids(session: AsyncSession) -> list[str]:
    """The campaigns being dialled now."""
    return list((await session.scalars(select(Campaign.id).where(Campaign.status == RUNNING)
                                       .order_by(Campaign.id))).all())


async def lock_running(session: AsyncSession, campaign_id: str) -> Campaign | None:
    """The campaign, locked for this transaction, if it is still running and no other worker holds it (that
    worker dials it this round: PostgreSQL skips it; SQLite's write lock makes every transaction the only one)."""
    statement = (select(Campaign).where(Campaign.id == campaign_id, Campaign.status == RUNNING)
                 .with_for_update(skip_locked=True))
    return (await session.scalars(statement)).first()


async def in_flight(session: AsyncSession, campaign_id: str) -> int:
    """Contacts of the campaign with a call in flight (each is one call: never two to one contact)."""
    count = await session.scalar(select(func.count()).select_from(CampaignContact).where(
        CampaignContact.campaign_id == campaign_id, CampaignContact.state == DIALING))
    return int(count or 0)


async def completes(session: AsyncSession, campaign_id: str) -> int:
    """Completed interviews so far (for the quota)."""
    count = await session.scalar(select(func.count()).select_from(ContactAttempt).where(
        ContactAttempt.campaign_id == campaign_id, ContactAttempt.outcome == COMPLETE))
    return int(count or 0)


async def claim_due(session: AsyncSession, campaign_id: str, now: datetime, limit: int,
                    *, never_dialled: bool = False) -> list[CampaignContact]:
    """Pending contacts due now, oldest first, locked (rows another worker holds are skipped)."""
    statement = (select(CampaignContact)
                 .where(CampaignContact.campaign_id == campaign_id, CampaignContact.state == PENDING,
                        or_(CampaignContact.next_attempt_at.is_(None), CampaignContact.next_attempt_at <= now))
                 .order_by(CampaignContact.id).limit(limit).with_for_update(skip_locked=True))
    if never_dialled:
        statement = statement.where(CampaignContact.attempts == 0)
    return list((await session.scalars(statement)).all())


async def outcomes_by_contact(session: AsyncSession, contact_ids: Sequence[int]) -> dict[int, list[str | None]]:
    """Each contact's attempt outcomes, oldest first."""
    found: dict[int, list[str | None]] = {contact_id: [] for contact_id in contact_ids}
    if contact_ids:
        rows = await session.execute(select(ContactAttempt.contact_id, ContactAttempt.outcome)
                                     .where(ContactAttempt.contact_id.in_(list(contact_ids)))
                                     .order_by(ContactAttempt.contact_id, ContactAttempt.number))
        for contact_id, outcome in rows:
            found[contact_id].append(outcome)
    return found


async def finish_if_done(session: AsyncSession, campaign_id: str, now: datetime) -> bool:
    """Mark a running campaign finished once none of its contacts is pending or dialing; say if it was."""
    left = select(CampaignContact.id).where(CampaignContact.campaign_id == campaign_id,
                                            CampaignContact.state.in_((PENDING, DIALING))).limit(1)
    if (await session.scalar(left)) is not None:
        return False
    result = await session.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.status == RUNNING)
                                   .values(status=FINISHED, ended_at=now))
    return bool(getattr(result, "rowcount", 0))
