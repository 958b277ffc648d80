"""One webhook event, as much as the flow needs of it: what happened, when, to which call and response.

Telephony parses a provider's envelope into an Event (survey_bot.telephony.envelope for Telnyx); the flow
never sees the provider's wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Event"]


@dataclass(frozen=True)
class Event:
    """One Telnyx webhook event, as much as survey-bot needs of it."""

    id: str
    event_type: str
    occurred_at: datetime | None
    payload: Mapping[str, Any]
    raw: str
    client_state: Mapping[str, Any] = field(default_factory=dict)

    @property
    def call_control_id(self) -> str | None:
        """The call this event is about, if any."""
        value = self.payload.get("call_control_id")
        return value if isinstance(value, str) and value else None

    @property
    def response_id(self) -> str | None:
        """The response named by our client_state, if the event carries it."""
        value = self.client_state.get("r")
        return value if isinstance(value, str) else None
