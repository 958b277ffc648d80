"""`survey-bot purge --older-than AGE [--form ID] [--dry-run]`: delete old responses by hand, with their webhook
events and commands, and say how many per form; each purge leaves an audit line (`survey-bot audit`)."""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import datetime, timedelta

from survey_bot.cli.common import Commands, os_actor
from survey_bot.errors import ConfigError
from survey_bot.forms.model import FormCatalog
from survey_bot.runtime import running
from survey_bot.storage.audit import PURGE, record_audit
from survey_bot.storage.purge import Counts, PurgeRecorder, PurgeScope, count_purge, describe, purge, reclaim
from survey_bot.utc import now as utc_now

__all__ = ["add_parser", "parse_age"]

_AGE = re.compile(r"([0-9]{1,6})([dh])")
AGE_SHAPE = "N followed by d (days) or h (hours), N >= 0: 30d, 12h, 0d"


def add_parser(commands: Commands) -> None:
    """Register `purge`."""
    command = commands.add_parser("purge", help="delete responses older than an age, with their events and commands",
                                  description=__doc__)
    command.add_argument("--older-than", required=True, metavar="AGE",
                         help=f"delete responses started longer ago than AGE: {AGE_SHAPE}")
    command.add_argument("--form", metavar="ID", help="only this form's responses (default: every form)")
    command.add_argument("--dry-run", action="store_true",
                         help="print what would be deleted, delete nothing (default: off)")
    command.set_defaults(handler=_purge)


def parse_age(text: str) -> timedelta:
    """`30d` -> 30 days, `12h` -> 12 hours (ConfigError naming the accepted shape for anything else)."""
    match = _AGE.fullmatch(text)
    if match is None:
        raise ConfigError(f"--older-than {text!r}: give {AGE_SHAPE}")
    number, unit = int(match[1]), match[2]
    return timedelta(days=number) if unit == "d" else timedelta(hours=number)


def _purge(args: argparse.Namespace) -> int:
    age = parse_age(args.older_than)  # before the database is opened: a mistake touches nothing
    return asyncio.run(run_purge(args.older_than, age, args.form, args.dry_run))


async def run_purge(age_text: str, age: timedelta, form_id: str | None, dry_run: bool) -> int:
    """Count or delete, print per form, and audit a real purge (a purge that found nothing too)."""
    now = utc_now()
    scope, label = PurgeScope(now - age, form_id=form_id), f"older than {age_text}"
    async with running(catalog=FormCatalog({})) as runtime:  # no form file is needed to delete by age
        if dry_run:
            async with runtime.sessions() as session:
                counts = await count_purge(session, scope)
        else:
            counts = await purge(runtime.sessions, scope, on_batch=PurgeRecorder(os_actor(), label, now))
            if counts:
                await reclaim(runtime.engine)
            else:
                async with runtime.sessions() as session, session.begin():
                    await record_audit(session, os_actor(), PURGE, form_id, 0, describe(label, {"responses": 0}), now)
    _report(counts, scope.cutoff, label, dry_run)
    return 0


def _report(counts: dict[str, Counts], cutoff: datetime, label: str, dry_run: bool) -> None:
    verb = "dry run, nothing deleted: would delete" if dry_run else "deleted"
    print(f"{verb} responses started before {cutoff.isoformat(timespec='seconds')} ({label})")
    for form_id, per_table in sorted(counts.items()):
        print(f"{form_id}: " + ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in per_table.items()))
    if not counts:
        print("no response is that old")
