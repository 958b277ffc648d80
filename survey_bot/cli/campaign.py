"""`survey-bot campaign create|start|pause|resume|cancel|status|report|export`: run a phone survey over a contact
list (the server's scheduler dials it; these commands set it up, steer it and read it back)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.campaigns.contacts import ListError
from survey_bot.campaigns.settings import CampaignSettings, SettingError, campaign_form_problem
from survey_bot.cli.campaign_output import print_import, print_report, print_status
from survey_bot.cli.common import Commands
from survey_bot.config import Settings
from survey_bot.errors import ConfigError
from survey_bot.forms.model import FormCatalog
from survey_bot.forms.placeholders import unfilled_placeholders
from survey_bot.reports.campaign_export import campaign_csv_chunks, campaign_export_columns
from survey_bot.reports.campaigns import campaign_report, campaign_status
from survey_bot.runtime import load_catalog, running
from survey_bot.storage.campaigns import ACTIONS, CampaignNotFound, TransitionRefused, import_campaign, transition
from survey_bot.utc import now as utc_now

__all__ = ["add_parser"]

M = TypeVar("M", bound=BaseModel)


def add_parser(commands: Commands) -> None:
    """Register `campaign` and its subcommands."""
    campaign = commands.add_parser("campaign", help="create, steer and report on calling campaigns",
                                   description=__doc__)
    verbs = campaign.add_subparsers(dest="verb", required=True, metavar="VERB")
    create = verbs.add_parser("create", help="import a contact list as a new campaign (prints its id last)",
                              description="Import CONTACTS.csv (a header with `phone`; optional timezone, locale, "
                                          "name; other columns become contact variables) as a draft campaign of "
                                          "FORM_ID; `campaign start ID` starts calling.")
    create.add_argument("--form", required=True, metavar="FORM_ID", help="the form the calls ask")
    create.add_argument("--contacts", required=True, metavar="CONTACTS.csv", help="the contact list (UTF-8 CSV)")
    create.add_argument("--name", help="a name to know it by (default: the list's file name)")
    create.add_argument("--window", metavar="HH:MM-HH:MM", help="calling hours in the contact's local time "
                                                                "(default: 09:00-20:00)")
    create.add_argument("--days", metavar="DAYS", help="calling days: mon-fri, mon-sun, mon,wed,fri (default: mon-sat)")
    create.add_argument("--max-attempts", type=int, metavar="N", help="dials per contact at most (default: 3)")
    create.add_argument("--retry-after", metavar="DURATION", help="wait before calling again after no answer, busy, "
                                                                  "a machine or a breakoff: 90s, 30m, 4h "
                                                                  "(default: 4h)")
    create.add_argument("--concurrency", type=int, metavar="N", help="calls at once, over every worker "
                                                                     "(default: 10)")
    create.add_argument("--rate", type=float, metavar="CALLS_PER_SECOND", help="dials per second, over every "
                                                                               "worker (default: 1)")
    create.add_argument("--amd", action=argparse.BooleanOptionalAction, default=None,
                        help="answering-machine detection (default: on)")
    create.add_argument("--voicemail", metavar="TEXT", help="leave this message on an answering machine, after "
                                                            "its greeting (default: none: hang up)")
    create.add_argument("--quota", type=int, metavar="N", help="stop dialing new contacts after N completed "
                                                               "responses (default: no quota)")
    create.add_argument("--locale", help="language of the calls when the list gives none (default: the form's)")
    create.add_argument("--default-region", metavar="REGION", help="two-letter region of numbers written without "
                                                                   "a country code, e.g. US (default: none: such "
                                                                   "numbers are rejected)")
    create.set_defaults(handler=_create)
    for action in ACTIONS:
        verb = verbs.add_parser(action, help=f"{action} a campaign")
        verb.add_argument("campaign_id", metavar="ID", help="the campaign id `campaign create` printed")
        verb.set_defaults(handler=_transition, action=action)
    status = verbs.add_parser("status", help="contacts by state, attempts, calls in progress, next call, quota")
    report = verbs.add_parser("report", help="final dispositions (AAPOR codes) and response rates")
    for verb, handler in ((status, _status), (report, _report)):
        verb.add_argument("campaign_id", metavar="ID", help="the campaign id `campaign create` printed")
        verb.add_argument("--json", action="store_true", help="print JSON (default: text)")
        verb.set_defaults(handler=handler)
    export = verbs.add_parser("export", help="one CSV row per contact, then the list's own columns")
    export.add_argument("campaign_id", metavar="ID", help="the campaign id `campaign create` printed")
    export.add_argument("--out", metavar="PATH", help="write to PATH (default: stdout)")
    export.set_defaults(handler=_export)


def _settings(args: argparse.Namespace) -> CampaignSettings:
    try:
        return CampaignSettings.from_text(
            window=args.window, days=args.days, max_attempts=args.max_attempts, retry_after=args.retry_after,
            concurrency=args.concurrency, rate=args.rate, amd=args.amd, voicemail=args.voicemail, quota=args.quota,
            locale=args.locale, default_region=args.default_region)
    except SettingError as exc:
        raise ConfigError(str(exc)) from None


def _create(args: argparse.Namespace) -> int:
    settings = _settings(args)  # before the database is opened: a mistake touches nothing
    path = Path(args.contacts)
    if not path.is_file():
        raise ConfigError(f"--contacts {args.contacts}: no such file")
    return asyncio.run(_import(path, args.form, args.name or path.stem, settings))


async def _import(path: Path, form_id: str, name: str, settings: CampaignSettings) -> int:
    config = Settings.load()
    forms = load_catalog(config).forms
    if form_id not in forms:
        known = ", ".join(sorted(forms)) or "none"
        raise ConfigError(f"--form {form_id}: no such form in {config.forms_path} (known: {known})")
    if (problem := campaign_form_problem(forms[form_id])) is not None:
        raise ConfigError(f"--form {form_id}: {problem}")
    # Only the campaign's own form counts: another form's sensitive fields need no key to import a list.
    async with running(config, FormCatalog({form_id: forms[form_id]})) as runtime:
        try:
            with path.open("rb") as raw:
                async with runtime.sessions() as session, session.begin():
                    summary = await import_campaign(session, raw, form_id=form_id, name=name, settings=settings,
                                                    caller_id=runtime.settings.from_number or None, now=utc_now())
        except ListError as exc:
            raise ConfigError(f"{path}: {exc}: nothing was imported") from None
    print_import(summary, path.name, unfilled_placeholders(forms[form_id].document, summary.header))
    return 0


def _transition(args: argparse.Namespace) -> int:
    async def act() -> str:
        async with running(catalog=FormCatalog({})) as runtime, runtime.sessions() as session, session.begin():
            return (await transition(session, args.campaign_id, args.action, utc_now())).status

    try:
        status = asyncio.run(act())
    except (CampaignNotFound, TransitionRefused) as exc:
        raise ConfigError(str(exc)) from None
    print(f"campaign {args.campaign_id}: {status}")
    return 0


def _status(args: argparse.Namespace) -> int:
    return _show(args, campaign_status, print_status)


def _report(args: argparse.Namespace) -> int:
    return _show(args, campaign_report, print_report)


def _show(args: argparse.Namespace, read: Callable[[AsyncSession, str], Awaitable[M]],
          show: Callable[[M], None]) -> int:
    """Read a campaign's status or report and print it as text, or as JSON with --json (as the API answers)."""
    async def run() -> None:
        async with running(catalog=FormCatalog({})) as runtime, runtime.sessions() as session:
            found = await read(session, args.campaign_id)
        if args.json:
            print(json.dumps(found.model_dump(mode="json"), indent=2, ensure_ascii=False))
        else:
            show(found)

    return _reading(run)


def _export(args: argparse.Namespace) -> int:
    async def write(out: TextIO) -> None:
        async with running(catalog=FormCatalog({})) as runtime:
            async with runtime.sessions() as session:
                columns = await campaign_export_columns(session, args.campaign_id)
            async for chunk in campaign_csv_chunks(runtime.engine, args.campaign_id, columns):
                out.write(chunk)

    if not args.out:
        return _reading(lambda: write(sys.stdout))
    try:
        out = Path(args.out).open("w", encoding="utf-8", newline="")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise ConfigError(f"--out {args.out}: cannot write there ({exc.strerror})") from None
    with out:
        return _reading(lambda: write(out))


def _reading(work: Callable[[], Coroutine[Any, Any, None]]) -> int:
    try:
        asyncio.run(work())
    except CampaignNotFound as exc:
        raise ConfigError(str(exc)) from None
    return 0
