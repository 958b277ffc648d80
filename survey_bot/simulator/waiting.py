"""Let tests and the demo wait for a condition on the simulator's state without polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Changes"]


class Changes:
    """A broadcast "something changed" signal: `notify()` wakes every `wait_for` to re-check."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake the waiters; later waits block until the next change."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:  # noqa: ASYNC109
        """Return once `predicate()` holds; raise TimeoutError("{what} after {timeout} s") otherwise."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    await self._event.wait()
        except TimeoutError:
            raise TimeoutError(f"{what} after {timeout:g} s") from None
