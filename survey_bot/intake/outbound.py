"""Outbound survey calls: a response and its `dial` command, committed together for the dispatcher."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.config import Settings
from survey_bot.errors import ConfigError
from survey_bot.flow.opening import Amd
from survey_bot.flow.state import CallState, Command
from survey_bot.forms.model import FormCatalog
from survey_bot.storage import outbox
from survey_bot.storage.form_versions import form_version_id
from survey_bot.storage.records import ResponseRecord, new_record
from survey_bot.storage.responses import insert_responses
from survey_bot.telephony.arguments import telnyx_request
from survey_bot.utc import now as utc_now

__all__ = ["E164", "CallRequestError", "start_outbound_call"]

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


class CallRequestError(ValueError):
    """An outbound call request that cannot be placed; the message says which field and why."""


async def start_outbound_call(session: AsyncSession, catalog: FormCatalog, settings: Settings,
                              to: str, form_id: str, locale: str | None = None, *, amd: Amd | None = None,
                              context: Mapping[str, Any] | None = None,
                              from_number: str | None = None) -> ResponseRecord:
    """Create the response and queue the dial; raise CallRequestError or ConfigError saying what is wrong.

    `locale`: the language the call speaks (one of the form's); None: the language menu if the form has one,
    else the default locale. `amd`: answering machine detection for this dial (a campaign's); `context`: more for
    client_state beside the response id (a campaign's contact and attempt); `from_number`: a caller id other than
    SURVEY_BOT_FROM_NUMBER.
    """
    if not E164.match(to):
        raise CallRequestError(f"to: {to!r} is not an E.164 number like +15551234567")
    form = catalog.forms.get(form_id)
    if form is None:
        raise CallRequestError(f"form: no form named {form_id!r} (known: {', '.join(sorted(catalog.forms))})")
    if locale is not None and locale not in form.locales:
        raise CallRequestError(f"locale: {locale!r} is not a locale of form {form_id!r} "
                               f"(it speaks {', '.join(form.locales)})")
    caller_id = from_number or settings.from_number
    if not settings.telnyx_connection_id or not caller_id:
        raise ConfigError("outbound calls need TELNYX_CONNECTION_ID and SURVEY_BOT_FROM_NUMBER")
    now, response_id = utc_now(), str(uuid.uuid4())
    state = CallState(response_id=response_id, direction="outgoing",
                      locale=locale or ("" if form.language_menu else form.locales[0]),
                      outreach=amd.outreach() if amd else {})
    response = new_record(response_id, form.form_id, await form_version_id(session, form, now), "outgoing",
                          now, state=state, from_number=caller_id, to_number=to, sensitive=form.sensitive_names)
    await insert_responses(session, [response])
    dial = Command("dial", "dial", {**(context or {}), "r": response.id},
                   {"connection_id": settings.telnyx_connection_id, "from": caller_id, "to": to,
                    **({"amd": amd.mode} if amd else {})})
    rows = outbox.command_rows([outbox.Request(dial.step, *telnyx_request(dial, form))], response_id=response.id,
                               call_control_id=None, event_id=None, now=now)
    await outbox.enqueue(session, rows)
    return response
