"""One campaign dial, written in the scheduler's transaction: the contact turns `dialing`, its attempt row,
the response the call will fill (or the contact's earlier one, reopened after a breakoff) and the `dial`
command in the outbox, due at its rate slot. The call carries the contact's values for the form's {placeholders}
(its name and list columns, only those the form names) in the response's outreach. The dispatcher sends it; the
call's webhooks take the intake's one write path, and intake.campaign_end maps the call's end back to the attempt
and the contact.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.config import Settings
from survey_bot.flow.opening import Amd
from survey_bot.flow.resume import reopen
from survey_bot.flow.state import CallState, Command
from survey_bot.flow.steps import CONTACT
from survey_bot.forms.model import Form
from survey_bot.forms.placeholders import spoken_values
from survey_bot.storage import outbox, responses
from survey_bot.storage import statements as sql
from survey_bot.storage.campaign_dialing import DIALING
from survey_bot.storage.campaign_models import Campaign, CampaignContact, ContactAttempt
from survey_bot.storage.records import new_record
from survey_bot.storage.responses import insert_responses
from survey_bot.telephony.arguments import telnyx_request
from survey_bot.vocabulary import ABANDONED

__all__ = ["amd_of", "call_locale", "outreach_of", "place_dial"]


def outreach_of(contact: CampaignContact, form: Form, amd: Amd | None) -> dict[str, Any]:
    """How the contact's call opens (flow.state.CallState.outreach): the dial's answering machine detection, and
    the contact's values for the greeting's, disclosure's and keypad intro's placeholders."""
    values = spoken_values(contact.name, contact.variables or {}, form.placeholders)
    return {**(amd.outreach() if amd else {}), **({CONTACT: values} if values else {})}


async def _resumed(session: AsyncSession, contact: CampaignContact, form: Form, outreach: dict[str, Any],
                   now: datetime) -> tuple[str | None, int]:
    """The contact's response reopened for the new call if its last call broke off (flow.resume); else None."""
    if contact.response_id is None:
        return None, 1
    found = await responses.load_records(session, [contact.response_id], [])
    if not found or found[0].state.status != ABANDONED:
        return None, 1
    record = found[0]
    state = reopen(record.state, outreach)
    changed = responses.changed_fields(record.state, state)
    record = dataclasses.replace(record, state=state, call_control_id=None, call_session_id=None, call_leg_id=None,
                                 updated_at=now, sensitive=form.sensitive_names)
    await (await session.connection()).execute(sql.UPDATE_RESPONSE, [responses.update_row(record, changed)])
    return record.id, state.calls


def amd_of(campaign: Campaign) -> Amd | None:
    """The dial's answering machine detection (flow.opening.Amd: premium, which also reports the greeting's end, so
    a voicemail message waits for the beep), or None when the campaign turned it off."""
    return Amd(voicemail=campaign.voicemail) if campaign.amd else None


def call_locale(campaign: Campaign, contact: CampaignContact, form: Form) -> str:
    """The locale the call speaks: the contact's, else the campaign's, when the form speaks it; else the form's
    language menu ("": chosen on the call) or its default locale."""
    for wanted in (contact.locale, campaign.locale):
        if wanted and wanted in form.locales:
            return wanted
    return "" if form.language_menu else form.locales[0]


async def place_dial(session: AsyncSession, campaign: Campaign, contact: CampaignContact, form: Form,
                     settings: Settings, slot: datetime, now: datetime, version_id: int) -> list[dict[str, Any]]:
    """Start the next attempt on `contact` (already locked); return its dial's outbox rows, due at `slot`, for the
    caller to enqueue (one statement for a whole round's dials)."""
    caller_id = campaign.caller_id or settings.from_number
    amd = amd_of(campaign)
    outreach = outreach_of(contact, form, amd)
    response_id, calls = await _resumed(session, contact, form, outreach, now)
    if response_id is None:
        response_id, calls = str(uuid.uuid4()), 1
        state = CallState(response_id, "outgoing", locale=call_locale(campaign, contact, form),
                          outreach=outreach)
        record = new_record(response_id, form.form_id, version_id, "outgoing", now, state=state,
                            from_number=caller_id, to_number=contact.phone, sensitive=form.sensitive_names)
        await insert_responses(session, [record])
    contact.attempts += 1
    contact.state, contact.last_attempt_at, contact.next_attempt_at = DIALING, now, None
    attempt = ContactAttempt(campaign_id=campaign.id, contact_id=contact.id, number=contact.attempts,
                             dialed_at=now, response_id=response_id, voicemail_left=False)
    session.add(attempt)
    details = {"connection_id": settings.telnyx_connection_id, "from": caller_id, "to": contact.phone,
               **({"amd": amd.mode} if amd else {})}
    dial = Command("dial", "dial", {"r": response_id, "c": contact.id, "a": contact.attempts}, details)
    rows = outbox.command_rows([outbox.Request(dial.step, *telnyx_request(dial, form))], response_id=response_id,
                               call_control_id=None, event_id=None, now=now, calls=calls)
    for row in rows:
        row["claimed_at"] = slot  # not before its rate slot (outbox.claim_due reads a pending claim as "due at")
    return rows
