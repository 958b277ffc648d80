"""A campaign's rate enforced when its dials are sent, by whichever dispatcher on whichever host sends them.

The scheduler plans each dial's slot, but a plan does not bound what Telnyx receives: a dispatcher that stalls
(its poll, a busy host, a Telnyx outage whose retries come due together) sends the dials that fell due at once,
a burst over the rate. So every dispatcher, in the transaction that claims dials, takes the campaign's send
clock (`campaigns.next_send_at`) under the campaign row's lock (FOR UPDATE on PostgreSQL; SQLite's one writer)
and sends a dial only if the clock allows it now, moving the clock one gap on; the others go back to the outbox
due when their turn comes. The clock is read after the lock is held, so a dispatcher that waited for it sees
the time it really sends at. A dial retried after a transient error is claimed again and takes a slot again.

Dials are claimed up to AHEAD before their turn and released with it (the dispatcher waits for it before sending):
one pass then carries the next few dials, where a pass per dial cost a third more CPU than the dials themselves.
The gap is a tenth wider than 1/rate: dials released 1.1/rate apart leave at most `rate` in any one second even
when one of them reaches Telnyx up to a tenth of a second later than the one after it. Functions take a session
and never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.storage.campaign_models import Campaign, ContactAttempt
from survey_bot.storage.models import Command
from survey_bot.utc import as_utc

__all__ = ["AHEAD", "RATE_HEADROOM", "pace_dials", "send_gap"]

RATE_HEADROOM = 1.1
AHEAD = timedelta(seconds=0.1)  # how long before its turn a dial may be claimed (and then wait for it)


def send_gap(rate: float) -> timedelta:
    """The time between two dials of a campaign at `rate` dials per second (with the headroom above)."""
    return timedelta(seconds=RATE_HEADROOM / rate)


async def pace_dials(session: AsyncSession, claimed: Sequence[Command],
                     clock: Callable[[], datetime]) -> tuple[set[str], dict[str, datetime]]:
    """Of the claimed commands, put back the campaign dials the send clock does not allow within AHEAD, each due at
    its turn; return their command ids, and for the dials kept the moment each may be sent (its turn). Every other
    command, and a dial of no campaign, stays claimed, to be sent at once."""
    dials = sorted((row for row in claimed if row.action == "dial" and row.response_id), key=lambda row: row.id)
    if not dials:
        return set(), {}
    found = await session.execute(select(ContactAttempt.response_id, ContactAttempt.campaign_id).distinct()
                                  .where(ContactAttempt.response_id.in_({row.response_id for row in dials})))
    campaign_of = {response_id: campaign_id for response_id, campaign_id in found}
    by_campaign: dict[str, list[Command]] = {}
    for row in dials:
        if row.response_id in campaign_of:
            by_campaign.setdefault(campaign_of[row.response_id], []).append(row)
    held: set[str] = set()
    turns: dict[str, datetime] = {}
    for campaign_id in sorted(by_campaign):  # locks in one order: two dispatchers queue, never deadlock
        campaign = await session.scalar(select(Campaign).where(Campaign.id == campaign_id).with_for_update()
                                        .execution_options(populate_existing=True))
        if campaign is None or campaign.rate <= 0:
            continue
        held |= _take_slots(campaign, by_campaign[campaign_id], clock(), turns)
    return held, turns


def _take_slots(campaign: Campaign, rows: list[Command], now: datetime, turns: dict[str, datetime]) -> set[str]:
    """Release the dials whose turn comes within AHEAD (each moving the clock a gap on; `turns` says when each may
    go); hold the rest, due one gap apart after them (the clock moves only for a dial released: a held one takes
    its turn when claimed again)."""
    gap, held = send_gap(campaign.rate), set()
    turn = max(now, as_utc(campaign.next_send_at)) if campaign.next_send_at is not None else now
    for row in rows:
        if turn <= now + AHEAD:
            campaign.next_send_at, turns[row.command_id] = turn + gap, turn
        else:
            row.status, row.claimed_at, row.claimed_by, row.attempts = "pending", turn, None, row.attempts - 1
            held.add(row.command_id)
        turn += gap
    return held
