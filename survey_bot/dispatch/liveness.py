"""Who this dispatcher is, whether another one on this host is still alive, and its heartbeat in the database.

A dispatcher's id names its host, the host's boot, its pid and its process start time, so a pid reused after
a crash, or a host that rebooted, is never mistaken for the dispatcher that claimed a command. On Linux the
start time comes from /proc; elsewhere the check falls back to whether the pid exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from survey_bot.storage import dispatchers

__all__ = ["HEARTBEAT", "SILENCE", "Identity", "Presence", "alive_here", "this_process"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """A dispatcher process, as stored in `dispatchers`."""

    id: str
    host: str
    pid: int


@functools.cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "-"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (None: no such process, or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def this_process() -> Identity:
    """This process's identity (computed per call: a forked child gets its own)."""
    host, pid = socket.gethostname()[:255], os.getpid()
    return Identity(f"{host}/{_boot_id()}/{pid}/{_start_time(pid) or '-'}"[:200], host, pid)


def alive_here(dispatcher_id: str, pid: int) -> bool:
    """Whether the dispatcher `dispatcher_id`, registered on this host as `pid`, is still running."""
    parts = dispatcher_id.rsplit("/", 3)
    if len(parts) != 4 or parts[1] != _boot_id():
        return False  # registered before this host last booted
    started = _start_time(pid)
    if started is not None:
        return started == parts[3]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user holds the pid: not ours to judge, leave it to the heartbeat
    return parts[3] == "-"


HEARTBEAT = timedelta(seconds=2)  # how often a dispatcher says it is alive
SILENCE = timedelta(seconds=6)  # a dispatcher silent this long is gone (its host vanished, or it hung)


class Presence:
    """One dispatcher's row in `dispatchers`: beaten every HEARTBEAT, and used to retire dispatchers that are gone.

    Every beat also removes dispatchers silent for SILENCE (whatever their host) and those registered on this
    host whose process has ended (at once, without waiting for the silence): their claims become due, so a
    replacement child, another worker or a restarted server sends them within seconds.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock
        self.identity = this_process()
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> None:
        """Say we are alive, and retire the dispatchers that are not."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            await dispatchers.beat(session, self.identity.id, self.identity.host, self.identity.pid, now)
            gone = [row.id for row in await dispatchers.on_host(session, self.identity.host)
                    if row.id != self.identity.id and not alive_here(row.id, row.pid)]
            await dispatchers.remove(session, gone)
            silent = await dispatchers.remove_silent(session, now, SILENCE)
        if gone or silent:
            log.warning("retired %d dispatcher(s) that are gone; their claimed commands are due again",
                        len(gone) + silent)

    def start(self) -> None:
        """Beat in the background (independently of sending, which may wait on Telnyx for seconds)."""
        self._task = asyncio.create_task(self._beat_forever(), name="survey-bot-dispatcher-heartbeat")

    async def leave(self) -> None:
        """Stop beating and remove our row: whatever we still hold is due again at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with self._sessions() as session, session.begin():
                await dispatchers.leave(session, self.identity.id)
        except Exception:  # the database is gone: our row falls silent and is retired by the others
            log.warning("could not unregister dispatcher %s", self.identity.id, exc_info=True)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT.total_seconds())
            try:
                await self.beat()
            except Exception:  # keep beating: a missed beat or two is within SILENCE
                log.warning("dispatcher heartbeat failed", exc_info=True)
