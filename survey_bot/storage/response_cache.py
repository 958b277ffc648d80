"""The group-commit writer's memory of the responses it committed last, so a batch need not decode them again.

Why: a batch used to load every response it touched whole, and decoding their JSON (the transcript above
all) was a tenth of the server's time under load (bench/ingest.py). Now a batch reads each response's
identity columns, which change whenever its state does (`updated_at`) or its call is linked, and takes the
record from here when they match what this writer committed; any other writer (another process or host, the
dispatcher linking a dialled call) leaves a different `updated_at`, and the record is loaded from the
database as before. That holds on both databases because the identity is read under the row lock and every
write moves `updated_at` (a rule for any new code that writes a response). Records enter only after their
batch committed (stage, then commit or discard).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from survey_bot.storage.records import IDENTITY_FIELDS, ResponseRecord
from survey_bot.utc import as_utc

__all__ = ["ResponseCache"]


class ResponseCache:
    """A bounded, least-recently-used map of response id -> the record last committed by this writer."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        # id -> (record, its identity columns as comparable values, in IDENTITY_FIELDS order)
        self._records: OrderedDict[str, tuple[ResponseRecord, tuple[Any, ...]]] = OrderedDict()
        self._staged: list[ResponseRecord] = []

    def __len__(self) -> int:
        return len(self._records)

    def current(self, identity: Any) -> ResponseRecord | None:
        """The cached record whose identity columns equal `identity`'s (a row, or anything with those attributes)."""
        entry = self._records.get(identity.id)
        if entry is None:
            return None
        record, key = entry
        row = tuple(getattr(identity, name) for name in IDENTITY_FIELDS)
        if row != key and tuple(map(_comparable, row)) != key:  # (SQLite's rows match as they come)
            del self._records[identity.id]  # someone else wrote it
            return None
        self._records.move_to_end(identity.id)
        return record

    def stage(self, records: Iterable[ResponseRecord]) -> None:
        """Hold the records a batch is writing until it commits."""
        self._staged = list(records)

    def commit(self) -> None:
        """The staged batch committed: remember its records (ended calls expect few more events)."""
        for record in self._staged:
            self._records.pop(record.id, None)
            if record.state.ended_at is None:
                self._records[record.id] = (record, tuple(_comparable(getattr(record, n)) for n in IDENTITY_FIELDS))
        while len(self._records) > self._size:
            self._records.popitem(last=False)
        self._staged = []

    def discard(self) -> None:
        """The staged batch did not commit: forget it, and whatever it touched."""
        for record in self._staged:
            self._records.pop(record.id, None)
        self._staged = []


def _comparable(value: Any) -> Any:
    """Datetimes as naive UTC: SQLite hands back naive values for what was written timezone-aware."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return as_utc(value).replace(tzinfo=None)
    return value
