"""The audit log: one line per act on a form's data that an operator must be able to account for later (a
purge, an export including sensitive answers), saying who, when, what, which form, how many rows and a short
detail, never the data itself.

Write the line in the same transaction as the act, so neither is ever kept without the other (an export, which
holds no transaction, is recorded before its first row is read).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.storage.models import AuditEntry

__all__ = ["EXPORT_SENSITIVE", "PURGE", "audit_entries", "record_audit", "update_audit"]

PURGE = "purge"
EXPORT_SENSITIVE = "export_sensitive"  # an export that included x-sensitive answers
MAX_DETAIL = 500  # a short detail: counts and ages, not data


async def record_audit(session: AsyncSession, actor: str, action: str, form_id: str | None, rows: int, detail: str,
                       now: datetime) -> int:
    """Add an audit line in the caller's transaction; return its id."""
    entry = AuditEntry(at=now, actor=actor[:200], action=action, form_id=form_id, rows=rows,
                       detail=detail[:MAX_DETAIL])
    session.add(entry)
    await session.flush()
    return entry.id


async def update_audit(session: AsyncSession, entry_id: int, rows: int, detail: str) -> None:
    """Restate an audit line's totals (an act done in several transactions keeps one line, true after each)."""
    await session.execute(update(AuditEntry).where(AuditEntry.id == entry_id)
                          .values(rows=rows, detail=detail[:MAX_DETAIL]))


async def audit_entries(session: AsyncSession, limit: int, before: int | None = None) -> list[AuditEntry]:
    """Up to `limit` audit lines, newest first; `before` (an id) continues after a page's last line."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list((await session.scalars(query)).all())
