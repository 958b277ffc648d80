"""The retention job: once shortly after start, then daily, purge the responses older than their form keeps them.

A form's `x-retention-days` wins over SURVEY_BOT_RETENTION_DAYS; a form with neither (and forms no longer in the
folder when the setting is unset) keeps its responses forever. Every web process runs the job: the purge's
batches claim their responses with SKIP LOCKED (PostgreSQL) or SQLite's write lock, deletes are by id, so two
workers or hosts at once take different rows, and each writes an audit line for what it deleted.

When a form has sensitive fields, the write path rewrites rows to redact their answers (intake.redacting): every
pass then also reclaims the space (storage.purge.reclaim: VACUUM on PostgreSQL, outside a transaction, so the
rows' old versions go; SQLite's checkpoint empties its write-ahead log), whether or not anything was purged.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from survey_bot.forms.model import FormCatalog
from survey_bot.periodic import Periodic
from survey_bot.storage.purge import Counts, PurgeRecorder, PurgeScope, add_counts, purge, reclaim
from survey_bot.utc import now as utc_now

__all__ = ["FIRST_DELAY", "INTERVAL", "RetentionJob"]

log = logging.getLogger(__name__)
FIRST_DELAY = 60.0  # seconds after start: the server is up and serving first
INTERVAL = 24 * 3600.0


class RetentionJob:
    """Purges by the forms' and the setting's retention, every `interval` seconds until stopped."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalog: FormCatalog, default_days: int | None,
                 engine: AsyncEngine | None = None) -> None:
        self._sessions, self._catalog, self._engine = sessions, catalog, engine
        self.default_days = default_days
        self.redacts = any(form.sensitive_names for form in catalog.forms.values())  # rows are rewritten
        self.actor = f"retention-job:{socket.gethostname()}:{os.getpid()}"
        self._loop = Periodic("retention", self.run_once)

    @property
    def keeps_everything(self) -> bool:
        """True when neither the setting nor any form limits how long responses are kept."""
        return self.default_days is None and all(f.retention_days is None for f in self._catalog.forms.values())

    @property
    def idle(self) -> bool:
        """True when the job has nothing to do: nothing to purge, and no rewritten rows to reclaim."""
        return self.keeps_everything and not self.redacts

    def scopes(self, now: datetime) -> list[tuple[PurgeScope, str]]:
        """What to purge now, and the age each audit line names: each form with its own retention, then every
        other form by the setting."""
        own = {form_id: form.retention_days for form_id, form in self._catalog.forms.items()
               if form.retention_days is not None}
        found = [(PurgeScope(now - timedelta(days=days), form_id=form_id), f"older than {days}d (x-retention-days)")
                 for form_id, days in sorted(own.items())]
        if self.default_days is not None:
            found.append((PurgeScope(now - timedelta(days=self.default_days), exclude=frozenset(own)),
                          f"older than {self.default_days}d (SURVEY_BOT_RETENTION_DAYS)"))
        return found

    async def run_once(self, now: datetime | None = None) -> dict[str, Counts]:
        """One pass: purge every scope, audit it, and reclaim the space if anything went (or rows may have been
        rewritten by redaction); return what went."""
        now = now or utc_now()
        deleted: dict[str, Counts] = {}
        for scope, age in self.scopes(now):
            add_counts(deleted, await purge(self._sessions, scope, on_batch=PurgeRecorder(self.actor, age, now)))
        if deleted:
            log.info("retention: purged %s", "; ".join(f"{form_id}: {counts}" for form_id, counts in deleted.items()))
        if (deleted or self.redacts) and self._engine is not None:
            await reclaim(self._engine)
        return deleted

    def start(self, first_delay: float = FIRST_DELAY, interval: float = INTERVAL) -> None:
        """Run a pass `first_delay` seconds from now, then every `interval` seconds."""
        self._loop.start(interval, first_delay)

    async def stop(self) -> None:
        """Stop; a pass under way ends at its current batch's transaction (committed or rolled back)."""
        await self._loop.stop()
