"""Live dispatchers in the database: register, beat the heart, leave; find and remove the ones that are gone.

Functions take a session and never commit. Whether a process on this host is alive is the caller's to say
(dispatch.liveness): storage only keeps the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.storage.models import DispatcherProcess

__all__ = ["beat", "leave", "on_host", "remove", "remove_silent"]


async def beat(session: AsyncSession, dispatcher_id: str, host: str, pid: int, now: datetime) -> None:
    """Say this dispatcher is alive now (registering it if its row is missing, as after a removal)."""
    result = await session.execute(update(DispatcherProcess).where(DispatcherProcess.id == dispatcher_id)
                                   .values(heartbeat_at=now))
    if not getattr(result, "rowcount", 0):
        session.add(DispatcherProcess(id=dispatcher_id, host=host, pid=pid, started_at=now, heartbeat_at=now))
        await session.flush()


async def leave(session: AsyncSession, dispatcher_id: str) -> None:
    """This dispatcher stops: its claims (if any are left) are due again at once."""
    await remove(session, [dispatcher_id])


async def on_host(session: AsyncSession, host: str) -> list[DispatcherProcess]:
    """The dispatchers registered on `host` (their processes can be checked there)."""
    return list((await session.scalars(select(DispatcherProcess).where(DispatcherProcess.host == host))).all())


async def remove(session: AsyncSession, dispatcher_ids: Sequence[str]) -> None:
    """Forget these dispatchers (they are gone)."""
    if dispatcher_ids:
        await session.execute(delete(DispatcherProcess).where(DispatcherProcess.id.in_(list(dispatcher_ids))))


async def remove_silent(session: AsyncSession, now: datetime, silence: timedelta) -> int:
    """Forget every dispatcher whose heartbeat is older than `silence` (its host may be gone); how many."""
    result = await session.execute(delete(DispatcherProcess).where(DispatcherProcess.heartbeat_at < now - silence))
    return int(getattr(result, "rowcount", 0) or 0)
