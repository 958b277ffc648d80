"""A campaign call's webhooks, mapped back to its attempt and contact, in the same transaction as the write
path's (so an attempt's end and the response's end are committed together, or neither).

The attempt keeps what Telnyx said (its call, when it was answered, the AMD result, whether a voicemail was left,
the hang-up cause); when the call ends, its outcome (campaigns.outcomes, from the response's call state: the same
facts the flow kept in `outreach`) decides: a retry outcome (no answer, busy, technical, machine without a
voicemail left, break-off) makes the contact due again after the campaign's `retry_after` while attempts remain;
otherwise the contact is done with its one disposition (storage.contact_disposal: contact.disposed is queued). A
call no person answered leaves no response behind: the row the dial created is deleted with the attempt's end (its
webhooks stay, under the attempt's call).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.campaigns import dispositions as d
from survey_bot.campaigns.outcomes import attempt_outcome, facts_of
from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState
from survey_bot.forms.model import Form, FormCatalog
from survey_bot.storage.campaign_dialing import PENDING
from survey_bot.storage.campaign_models import Campaign, CampaignContact, ContactAttempt
from survey_bot.storage.contact_disposal import dispose
from survey_bot.storage.form_versions import form_of_version
from survey_bot.storage.models import Response
from survey_bot.storage.records import ResponseRecord
from survey_bot.vocabulary import NOT_DIALLED

__all__ = ["CallNote", "after_events", "watched"]


@dataclass(frozen=True)
class CallNote:
    """An event on an outgoing call that may matter to a campaign attempt, with the response after it."""

    event: Event
    record: ResponseRecord
    ended: bool  # this event ended the call (a hang-up, the watchdog)


def watched(event: Event) -> bool:
    """Whether an outgoing call's event tells an attempt something beyond its end."""
    kind = event.event_type
    return kind in ("call.initiated", "call.answered")


async def after_events(session: AsyncSession, catalog: FormCatalog, notes: Sequence[CallNote],
                       now: datetime) -> None:
    """Apply the notes of one batch to the attempts in flight they belong to (other calls are left alone)."""
    wanted = sorted({note.record.id for note in notes})
    attempts = {a.response_id: a for a in (await session.scalars(
        select(ContactAttempt).where(ContactAttempt.response_id.in_(wanted), ContactAttempt.ended_at.is_(None))
        .with_for_update())).all()}
    for note in notes:
        attempt = attempts.get(note.record.id)
        if attempt is None or attempt.ended_at is not None:
            continue
        _learn(attempt, note, now)
        if note.ended:
            form = await form_of_version(session, catalog, note.record.form_id, note.record.form_version_id)
            await _end(session, attempt, note.record, form, now)


def _learn(attempt: ContactAttempt, note: CallNote, now: datetime) -> None:
    attempt.call_control_id = attempt.call_control_id or note.record.call_control_id
    if note.event.event_type == "call.answered":
        attempt.answered_at = attempt.answered_at or note.event.occurred_at or now


def outcome_of(attempt: ContactAttempt, state: CallState, form: Form) -> str:
    """What one finished attempt came to (an attempt outcome word of campaigns.dispositions), and the attempt's
    AMD result and voicemail as the call state kept them. Answered is this attempt's own: a resumed response
    keeps its first call's answer time."""
    facts = dataclasses.replace(facts_of(state, form), answered=attempt.answered_at is not None)
    attempt.amd_result, attempt.voicemail_left = facts.amd_result, facts.voicemail_left
    return attempt_outcome(facts)


async def _end(session: AsyncSession, attempt: ContactAttempt, record: ResponseRecord, form: Form,
               now: datetime) -> None:
    state = record.state
    if state.hangup_cause == NOT_DIALLED:  # its campaign was cancelled before the dial went: no attempt was made
        await _unmake(session, attempt, record, now)
        return
    outcome = outcome_of(attempt, state, form)
    attempt.outcome, attempt.ended_at = outcome, state.ended_at or now
    attempt.hangup_cause = state.hangup_cause
    contact = await _locked_contact(session, attempt)
    # shared lock: a cancel (which locks the campaign for update) is wholly before or after this decision
    campaign = (await session.scalars(select(Campaign).where(Campaign.id == contact.campaign_id)
                                      .with_for_update(read=True))).one()
    if outcome in d.HUMAN_OUTCOMES:
        contact.response_id = record.id
    elif not await _release_response(session, attempt, record, now):
        attempt.response_id = None
    contact.last_outcome = outcome
    await session.flush()
    if outcome in d.RETRY_OUTCOMES and contact.attempts < campaign.max_attempts and campaign.status != "cancelled":
        contact.state = PENDING
        contact.next_attempt_at = now + timedelta(seconds=campaign.retry_after_seconds)
        return
    await dispose(session, [contact], now)


async def _unmake(session: AsyncSession, attempt: ContactAttempt, record: ResponseRecord, now: datetime) -> None:
    """Forget an attempt whose dial was never sent: the contact is disposed by the attempts it really had (none:
    not_attempted, AAPOR 3.11), and the response goes, or ends as its last answered call did."""
    contact = await _locked_contact(session, attempt)
    await _release_response(session, attempt, record, now)
    await session.delete(attempt)
    contact.attempts = max(0, contact.attempts - 1)
    await session.flush()
    await dispose(session, [contact], now)


async def _locked_contact(session: AsyncSession, attempt: ContactAttempt) -> CampaignContact:
    return (await session.scalars(select(CampaignContact).where(CampaignContact.id == attempt.contact_id)
                                  .with_for_update())).one()


async def _release_response(session: AsyncSession, attempt: ContactAttempt, record: ResponseRecord,
                            now: datetime) -> bool:
    """A dial no person answered leaves no response behind: the row it made goes (False), unless it reopened a
    resumed breakoff's response, which then ends as its last answered call did (True: it stays)."""
    earlier = await _earlier(session, attempt)
    if earlier is None:
        await session.execute(delete(Response).where(Response.id == record.id))
        return False
    await session.execute(update(Response).where(Response.id == record.id).values(
        ended_at=earlier.ended_at, hangup_cause=earlier.hangup_cause, updated_at=now))
    return True


async def _earlier(session: AsyncSession, attempt: ContactAttempt) -> ContactAttempt | None:
    """The latest earlier attempt that fed the same response (it was reopened after a breakoff: it stays)."""
    return (await session.scalars(select(ContactAttempt).where(
        ContactAttempt.response_id == attempt.response_id, ContactAttempt.id != attempt.id)
        .order_by(ContactAttempt.number.desc()).limit(1))).first()
