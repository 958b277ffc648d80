"""Inject API failures on demand: the service down, the next requests failing, the next answers late, and
numbers whose every dial Telnyx refuses for good (an invalid number: 422 with a code and `/to` as the pointer)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from survey_bot.simulator.contract import ApiError

__all__ = ["Faults"]


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: float | None
    code: str | None
    action: str | None  # only requests for this action (e.g. "gather_using_ai"); None: any request


class Faults:
    """The failure switches of one fake API, consumed request by request."""

    def __init__(self) -> None:
        self.down = False
        self._failures: deque[_Failure] = deque()
        self._delays: deque[float] = deque()
        self._refused: dict[str, ApiError] = {}  # number -> the error each dial to it gets

    def fail_next(self, n: int, status: int, retry_after: float | None, code: str | None,
                  action: str | None = None) -> None:
        """Make the next `n` requests (for `action`, if given) fail with `status` (and `Retry-After`, `code`)."""
        self._failures.extend(_Failure(status, retry_after, code, action) for _ in range(n))

    def delay_next(self, n: int, seconds: float) -> None:
        """Make the answers to the next `n` successful commands `seconds` late."""
        self._delays.extend(seconds for _ in range(n))

    def refuse_dials(self, to: str, status: int, code: str | None, pointer: str | None) -> None:
        """Refuse every dial to `to` with `status` (`code`; `pointer` names the field at fault, or None)."""
        self._refused[to] = ApiError.single(status, code, "Injected refusal of this number", pointer=pointer)

    def raise_if_refused(self, to: str) -> None:
        """Raise the refusal set for dials to `to`, if any."""
        if to in self._refused:
            raise self._refused[to]

    def raise_if_down(self) -> None:
        """Raise a 503 while the service is set down."""
        if self.down:
            raise ApiError.single(503, detail="The service is down (simulated)")

    def raise_if_failing(self, action: str) -> None:
        """Raise the next injected failure, if one is due for this request's action."""
        if self._failures and self._failures[0].action in (None, action):
            failure = self._failures.popleft()
            headers = {} if failure.retry_after is None else {"Retry-After": f"{failure.retry_after:g}"}
            raise ApiError.single(failure.status, failure.code, "Injected failure", headers=headers)

    def take_delay(self) -> float | None:
        """Return how late this successful answer should be, if a delay is due."""
        return self._delays.popleft() if self._delays else None
