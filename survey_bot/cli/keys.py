"""`survey-bot keys generate`: a new key for SURVEY_BOT_DATA_KEY, which encrypts x-sensitive answers."""

from __future__ import annotations

import argparse

from survey_bot.cli.common import Commands
from survey_bot.storage.sealing import generate_key

__all__ = ["add_parser"]

ROTATION = ("Put it first in SURVEY_BOT_DATA_KEY (comma-separated, newest first) and keep the old keys after it: "
            "answers are encrypted with the first key and read with any, so nothing sealed before stays unreadable.")


def add_parser(commands: Commands) -> None:
    """Register `keys generate`."""
    keys = commands.add_parser("keys", help="keys that encrypt sensitive answers", description=__doc__)
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    generate = actions.add_parser("generate", help="print a new SURVEY_BOT_DATA_KEY key", description=ROTATION)
    generate.set_defaults(handler=_generate)


def _generate(_args: argparse.Namespace) -> int:
    print(generate_key())
    return 0
