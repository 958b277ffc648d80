"""A response as the write path holds it: a plain record of its identity, its call ids and the flow's state.

Kept apart from the queries (responses.py) and the cache (response_cache.py), which both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from survey_bot.flow.state import CallState

__all__ = ["IDENTITY_FIELDS", "ResponseRecord", "new_record"]

# The columns that say which version of a response a record is: `updated_at` moves with every write, and a
# cached record is only used while they match the row (see response_cache.py).
IDENTITY_FIELDS = ("id", "form_id", "form_version_id", "direction", "call_control_id", "call_session_id",
                   "call_leg_id", "started_at", "updated_at")


@dataclass
class ResponseRecord:
    """A response row as the write path holds it: its identity, its call ids and the flow's state."""

    id: str
    form_id: str
    form_version_id: int
    direction: str
    call_control_id: str | None
    call_session_id: str | None
    call_leg_id: str | None
    started_at: datetime
    updated_at: datetime
    state: CallState
    from_number: str | None = None  # only written when the record is new
    to_number: str | None = None
    # The form's x-sensitive fields: their answers are sealed as the row is written (storage.sealing)
    sensitive: frozenset[str] = frozenset()


def new_record(response_id: str, form_id: str, form_version_id: int, direction: str, now: datetime, *,
               state: CallState | None = None, call_control_id: str | None = None,
               call_session_id: str | None = None, call_leg_id: str | None = None, from_number: str | None = None,
               to_number: str | None = None, sensitive: frozenset[str] = frozenset()) -> ResponseRecord:
    """A response not stored yet (insert it with insert_responses)."""
    return ResponseRecord(
        id=response_id, form_id=form_id, form_version_id=form_version_id, direction=direction,
        call_control_id=call_control_id, call_session_id=call_session_id, call_leg_id=call_leg_id,
        started_at=now, updated_at=now, state=state or CallState(response_id=response_id, direction=direction),
        from_number=from_number, to_number=to_number, sensitive=sensitive)
