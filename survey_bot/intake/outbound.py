"""Outbound survey calls: a response and its `dial` command, committed together for the dispatcher."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.config import Settings
from survey_bot.errors import ConfigError
from survey_bot.flow.state import Command
from survey_bot.forms.model import FormCatalog
from survey_bot.storage import store
from survey_bot.storage.models import Response
from survey_bot.telephony.envelope import encode_client_state

__all__ = ["E164", "CallRequestError", "start_outbound_call"]

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


class CallRequestError(ValueError):
    """An outbound call request that cannot be placed; the message says which field and why."""


async def start_outbound_call(session: AsyncSession, catalog: FormCatalog, settings: Settings,
                              to: str, form_id: str) -> Response:
    """Create the response and queue the dial; raise CallRequestError or ConfigError saying what is wrong."""
    if not E164.match(to):
        raise CallRequestError(f"to: {to!r} is not an E.164 number like +15551234567")
    form = catalog.forms.get(form_id)
    if form is None:
        raise CallRequestError(f"form: no form named {form_id!r} (known: {', '.join(sorted(catalog.forms))})")
    if not settings.telnyx_connection_id or not settings.from_number:
        raise ConfigError("outbound calls need TELNYX_CONNECTION_ID and SURVEY_BOT_FROM_NUMBER")
    now = datetime.now(UTC)
    response = await store.create_response(session, form, direction="outgoing", now=now,
                                           from_number=settings.from_number, to_number=to)
    dial = Command("dial", {
        "connection_id": settings.telnyx_connection_id,
        "from": settings.from_number,
        "to": to,
        "client_state": encode_client_state({"r": response.id}),
    }, "dial")
    await store.enqueue_commands(session, [dial], response_id=response.id, call_control_id=None,
                                 event_id=None, now=now)
    return response
