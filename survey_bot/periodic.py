"""A background job's loop, written once: run a coroutine after a first delay, then every `interval` seconds,
in a task of its own, until stopped; a run that fails is logged and the next one comes (the loop must live).
The watchdog and the retention job use it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


class Periodic:
    """`work()` every `interval` seconds (the first after `first_delay`), until `stop()`."""

    def __init__(self, name: str, work: Callable[[], Awaitable[Any]]) -> None:
        self.name, self._work = name, work
        self._task: asyncio.Task[None] | None = None

    def start(self, interval: float, first_delay: float = 0.0) -> None:
        """Start the loop in the background."""
        self._task = asyncio.create_task(self._run(interval, first_delay), name=f"survey-bot-{self.name}")

    async def stop(self) -> None:
        """Stop the loop; a run under way is cancelled where it awaits."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self, interval: float, first_delay: float) -> None:
        await asyncio.sleep(first_delay)
        while True:
            try:
                await self._work()
            except Exception:  # logged; the next run comes at its time
                log.exception("%s failed", self.name)
            await asyncio.sleep(interval)
