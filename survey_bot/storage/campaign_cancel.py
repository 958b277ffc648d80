"""Cancelling a campaign with calls in progress: its waiting contacts are done at once, its calls end as calls do.

A contact waiting (pending) gets its final disposition from its attempts (none: not_attempted). A contact on a
call stays `dialing` until the call's end comes back through the write path (intake.campaign_end), which then
disposes it (a cancelled campaign retries nobody): live calls are hung up through the outbox (the hangup waits
behind a dial being sent), and a dial not sent yet is made due now, for the dispatcher to skip it and end its
attempt: never sent, it was no attempt (the contact is not_attempted if it had no other); tried before and
failed, a technical end (cancelled_dials). Each contact is disposed once: every disposal is an
UPDATE ... WHERE disposition IS NULL RETURNING (storage.contact_disposal), so a call ending while the campaign is
cancelled never disposes a contact twice. Functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.flow.state import Command as FlowCommand
from survey_bot.storage import outbox
from survey_bot.storage.campaign_dialing import PENDING
from survey_bot.storage.campaign_models import Campaign, CampaignContact, ContactAttempt
from survey_bot.storage.contact_disposal import dispose
from survey_bot.storage.models import Command, Response
from survey_bot.telephony.arguments import telnyx_request

__all__ = ["cancelled_dials", "dispose_waiting", "stop_calls"]


async def dispose_waiting(session: AsyncSession, campaign_id: str, now: datetime) -> None:
    """Dispose every contact of the campaign that is waiting (not on a call, not done)."""
    waiting = list((await session.scalars(select(CampaignContact).where(
        CampaignContact.campaign_id == campaign_id, CampaignContact.state == PENDING)
        .order_by(CampaignContact.id))).all())
    await dispose(session, waiting, now)


async def stop_calls(session: AsyncSession, campaign_id: str, now: datetime) -> None:
    """Hang up the campaign's live calls through the outbox; make its dials not sent yet due now (to be skipped)."""
    rows = (await session.execute(
        select(ContactAttempt.response_id, Response.call_control_id, Response.calls, Response.ended_at)
        .join(Response, Response.id == ContactAttempt.response_id)
        .where(ContactAttempt.campaign_id == campaign_id, ContactAttempt.ended_at.is_(None)))).all()
    if not rows:
        return
    response_ids = [row.response_id for row in rows]
    unsent = set((await session.scalars(
        update(Command).where(Command.response_id.in_(response_ids), Command.action == "dial",
                              Command.status == "pending")
        .values(claimed_at=now).returning(Command.response_id)
        .execution_options(synchronize_session=False))).all())
    hangups = []
    for row in rows:
        if row.response_id in unsent or row.ended_at is not None:
            continue
        hangup = FlowCommand("hangup", "hangup", {"r": row.response_id, "s": "hangup"})
        hangups += outbox.command_rows([outbox.Request(hangup.step, *telnyx_request(hangup, None))],
                                       response_id=row.response_id, call_control_id=row.call_control_id,
                                       event_id=None, now=now, calls=row.calls or 1)
    await outbox.enqueue(session, hangups)


async def cancelled_dials(session: AsyncSession, response_ids: Iterable[str]) -> set[str]:
    """Which of these responses' dials belong to an attempt in flight of a cancelled campaign (never to be sent)."""
    wanted = sorted(set(response_ids))
    if not wanted:
        return set()
    found = await session.scalars(
        select(ContactAttempt.response_id).join(Campaign, Campaign.id == ContactAttempt.campaign_id)
        .where(ContactAttempt.response_id.in_(wanted), ContactAttempt.ended_at.is_(None),
               Campaign.status == "cancelled"))
    return {response_id for response_id in found if response_id}
