"""Webhook events in the database: each recorded once, by Telnyx's event id, with its raw body and its fate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.flow.events import Event
from survey_bot.storage import statements as sql

__all__ = ["event_row", "recorded_event_ids"]


async def recorded_event_ids(session: AsyncSession, ids: Sequence[str]) -> set[str]:
    """Which of these event ids are already recorded."""
    connection = await session.connection()
    return set((await connection.scalars(sql.RECORDED_EVENTS, {"ids": sorted(set(ids))})).all())


def event_row(event: Event, now: datetime, state: str, note: str | None, response_id: str | None) -> dict[str, Any]:
    """An event's row: processed (its effects are in the same transaction), ignored (with why) or rejected."""
    return {"id": event.id, "event_type": event.event_type, "call_control_id": event.call_control_id,
            "response_id": response_id if response_id is not None else event.response_id,
            "occurred_at": event.occurred_at, "received_at": now, "body": event.raw, "state": state, "note": note}
