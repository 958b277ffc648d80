"""The audit log as people read it: pages of lines, newest first, for GET /api/audit and `survey-bot audit`."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.reports.read_model import CursorError
from survey_bot.storage.audit import audit_entries
from survey_bot.utc import as_utc

__all__ = ["AuditLine", "AuditPage", "audit_page"]


class AuditLine(BaseModel):
    """Who did what to which form's data, when, and how many rows (never the data)."""

    id: int
    at: datetime
    actor: str = Field(description="cli:<OS user>, api:<client address> session=<session>, or retention-job:<host>:"
                                   "<pid>")
    action: str = Field(description="purge (responses deleted with their webhook events and commands)")
    form_id: str | None
    rows: int = Field(description="responses affected")
    detail: str = Field(description="a short detail: the age purged and the rows deleted per table")


class AuditPage(BaseModel):
    """Audit lines, newest first; pass next_cursor for the next page (null: no more)."""

    items: list[AuditLine]
    next_cursor: str | None


def _encode(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"audit:{entry_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        kind, _, number = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        if kind != "audit" or not number.isdigit():
            raise ValueError(cursor)
        return int(number)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("cursor: not a cursor this API issued") from exc


async def audit_page(session: AsyncSession, limit: int, cursor: str = "") -> AuditPage:
    """Up to `limit` audit lines after the cursor, newest first (raises CursorError for a cursor not issued)."""
    before = _decode(cursor) if cursor else None
    rows = await audit_entries(session, limit + 1, before)
    items = [AuditLine(id=row.id, at=as_utc(row.at), actor=row.actor, action=row.action, form_id=row.form_id,
                       rows=row.rows, detail=row.detail) for row in rows[:limit]]
    more = len(rows) > limit
    return AuditPage(items=items, next_cursor=_encode(items[-1].id) if more else None)
