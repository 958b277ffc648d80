"""What the fake Telnyx records of each request it receives, for tests and benches to inspect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ReceivedCommand"]


@dataclass(frozen=True)
class ReceivedCommand:
    """One request the fake API received, and how it answered."""

    call_control_id: str | None
    action: str  # "dial" for POST /calls, else the path's action, e.g. "gather_using_speak"
    body: dict[str, Any]
    command_id: str | None
    status_code: int
    duplicate: bool
    received_at: float

    @property
    def accepted(self) -> bool:
        """Return whether the command was answered 2xx and acted upon (not a duplicate)."""
        return 200 <= self.status_code < 300 and not self.duplicate
