"""Opt-outs onto the suppression list, in the transaction of the webhook that carried them: a person who asked
not to be called again is never dialled by any campaign from the moment the event is acknowledged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.storage.campaign_models import Suppression
from survey_bot.storage.engine import upsert_insert
from survey_bot.storage.models import Response

__all__ = ["OPT_OUT_REASON", "insert_opt_outs"]

OPT_OUT_REASON = "opt_out"
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


async def insert_opt_outs(session: AsyncSession, opted_out: Mapping[str, datetime]) -> None:
    """Put the person of each response that opted out (response id -> when) on the suppression list: the number
    dialled, or the caller's (not a SIP address). A number already on it stays as it was (its first reason)."""
    if not opted_out:
        return
    found = (await session.execute(select(Response.id, Response.direction, Response.from_number, Response.to_number)
                                   .where(Response.id.in_(sorted(opted_out))))).all()
    rows = []
    for response_id, direction, from_number, to_number in found:
        phone = to_number if direction == "outgoing" else from_number
        if phone and _E164.match(phone):
            rows.append({"phone": phone, "reason": OPT_OUT_REASON, "source": f"call:{response_id}",
                         "created_at": opted_out[response_id]})
    if rows:
        insert = upsert_insert(session)
        await session.execute(insert(Suppression).on_conflict_do_nothing(index_elements=["phone"]), rows)
