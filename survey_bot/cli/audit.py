"""`survey-bot audit [--json] [--limit N]`: the audit log, newest first: who purged which form's responses, when,
and how many (GET /api/audit lists the same lines)."""

from __future__ import annotations

import argparse
import asyncio
import json

from survey_bot.cli.common import Commands
from survey_bot.errors import ConfigError
from survey_bot.forms.model import FormCatalog
from survey_bot.reports.audit import AuditLine, audit_page
from survey_bot.runtime import running

__all__ = ["add_parser"]

MAX_LIMIT = 10_000


def add_parser(commands: Commands) -> None:
    """Register `audit`."""
    command = commands.add_parser("audit", help="list the audit log (purges), newest first", description=__doc__)
    command.add_argument("--json", action="store_true", help="print a JSON array (default: a line per entry)")
    command.add_argument("--limit", type=int, default=50, metavar="N",
                         help="the N newest lines (default: %(default)s)")
    command.set_defaults(handler=_audit)


def _audit(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise ConfigError(f"--limit {args.limit}: give a number from 1 to {MAX_LIMIT}")
    lines = asyncio.run(_lines(args.limit))
    if args.json:
        print(json.dumps([line.model_dump(mode="json") for line in lines], indent=2, ensure_ascii=False))
        return 0
    for line in lines:
        print("  ".join([line.at.isoformat(timespec="seconds"), line.actor, line.action, line.form_id or "-",
                         str(line.rows), line.detail]))
    if not lines:
        print("the audit log is empty")
    return 0


async def _lines(limit: int) -> list[AuditLine]:
    async with running(catalog=FormCatalog({})) as runtime, runtime.sessions() as session:
        return (await audit_page(session, limit)).items
