"""The do-not-call list every campaign honours: add (an existing entry keeps its first reason), remove, page
through, and ask whether a number is on it. Numbers are E.164 (callers normalise them first)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.storage.campaign_models import Suppression
from survey_bot.storage.engine import upsert_insert

__all__ = ["add_suppressions", "count_suppressions", "is_suppressed", "list_suppressions", "remove_suppressions",
           "suppressions_of"]


async def add_suppressions(session: AsyncSession, phones: Sequence[str], reason: str, source: str | None,
                           now: datetime) -> int:
    """Put `phones` on the list; return how many were not on it yet."""
    if not phones:
        return 0
    unique = list(dict.fromkeys(phones))
    before = set(await session.scalars(select(Suppression.phone).where(Suppression.phone.in_(unique))))
    rows = [{"phone": phone, "reason": reason, "source": source, "created_at": now} for phone in unique]
    await session.execute(upsert_insert(session)(Suppression).values(rows).on_conflict_do_nothing())
    return len([phone for phone in unique if phone not in before])


async def remove_suppressions(session: AsyncSession, phones: Sequence[str]) -> int:
    """Take `phones` off the list; return how many were on it."""
    if not phones:
        return 0
    result = await session.execute(delete(Suppression).where(Suppression.phone.in_(list(set(phones)))))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def is_suppressed(session: AsyncSession, phone: str) -> bool:
    """Whether no campaign may call `phone`."""
    return bool(await session.scalar(select(exists().where(Suppression.phone == phone))))


async def list_suppressions(session: AsyncSession, limit: int, after: str = "") -> list[Suppression]:
    """Up to `limit` entries in number order, after the number `after` (keyset: pages never skip or repeat)."""
    query = select(Suppression).order_by(Suppression.phone).limit(limit)
    return list(await session.scalars(query.where(Suppression.phone > after) if after else query))


async def count_suppressions(session: AsyncSession) -> int:
    """How many numbers are on the list."""
    return int(await session.scalar(select(func.count()).select_from(Suppression)) or 0)


async def suppressions_of(session: AsyncSession, phones: Sequence[str]) -> list[Suppression]:
    """The entries of those of `phones` that are on the list."""
    return list(await session.scalars(select(Suppression).where(Suppression.phone.in_(list(set(phones))))))
