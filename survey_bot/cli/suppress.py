"""`survey-bot suppress add|remove|list [NUMBER ...]`: the do-not-call list every campaign honours (checked at
import and again before each dial; an opt-out during a call adds the number itself)."""

from __future__ import annotations

import argparse
import asyncio

from survey_bot.campaigns.contacts import parse_phone
from survey_bot.cli.common import Commands, os_actor
from survey_bot.errors import ConfigError
from survey_bot.forms.model import FormCatalog
from survey_bot.runtime import running
from survey_bot.storage.campaign_models import Suppression
from survey_bot.storage.suppressions import (
    add_suppressions,
    list_suppressions,
    remove_suppressions,
    suppressions_of,
)
from survey_bot.utc import now as utc_now

__all__ = ["add_parser", "e164_numbers"]

PAGE = 1000


def add_parser(commands: Commands) -> None:
    """Register `suppress` and its verbs."""
    suppress = commands.add_parser("suppress", help="the do-not-call list every campaign honours",
                                   description=__doc__)
    verbs = suppress.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, text in (("add", "put numbers on the list"), ("remove", "take numbers off the list")):
        command = verbs.add_parser(verb, help=text)
        command.add_argument("numbers", nargs="+", metavar="NUMBER", help="E.164 numbers, e.g. +15551234567")
        command.set_defaults(handler=_change, verb=verb)
    listing = verbs.add_parser("list", help="print the list (or whether the NUMBERs given are on it)")
    listing.add_argument("numbers", nargs="*", metavar="NUMBER", help="only these numbers (default: every one)")
    listing.set_defaults(handler=_list)


def e164_numbers(texts: list[str], where: str = "NUMBER") -> list[str]:
    """The numbers as E.164; ConfigError naming the first that is not a valid international number."""
    found = []
    for text in texts:
        parsed = parse_phone(text.strip(), None)
        if isinstance(parsed, str):
            raise ConfigError(f"{where} {text!r}: {parsed.removeprefix(f'phone {text.strip()!r} ')}")
        found.append(parsed[0])
    return found


def _change(args: argparse.Namespace) -> int:
    numbers = e164_numbers(args.numbers)

    async def change() -> int:
        async with running(catalog=FormCatalog({})) as runtime, runtime.sessions() as session, session.begin():
            if args.verb == "add":
                return await add_suppressions(session, numbers, "manual", os_actor(), utc_now())
            return await remove_suppressions(session, numbers)

    changed = asyncio.run(change())
    unique = len(set(numbers))
    if args.verb == "add":
        print(f"{changed} added to the suppression list ({unique - changed} already on it)")
    else:
        print(f"{changed} removed from the suppression list ({unique - changed} were not on it)")
    return 0


def _list(args: argparse.Namespace) -> int:
    numbers = e164_numbers(args.numbers) if args.numbers else []

    async def show() -> None:
        async with running(catalog=FormCatalog({})) as runtime, runtime.sessions() as session:
            if numbers:
                found = {entry.phone: entry for entry in await suppressions_of(session, numbers)}
                for phone in dict.fromkeys(numbers):
                    print(_line(found[phone]) if phone in found else f"{phone}  not on the list")
                return
            after, shown = "", 0
            while page := await list_suppressions(session, PAGE, after):
                print("\n".join(_line(entry) for entry in page))
                shown, after = shown + len(page), page[-1].phone
            if not shown:
                print("the suppression list is empty")

    asyncio.run(show())
    return 0


def _line(entry: Suppression) -> str:
    return f"{entry.phone}  {entry.reason}  {entry.created_at.isoformat(timespec='seconds')}  {entry.source or '-'}"
