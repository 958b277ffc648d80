"""survey-bot's command line: serve, demo, simulate, db upgrade, forms check, call, campaign, suppress, export, purge,
audit, keys, webhooks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from survey_bot import __version__
from survey_bot.cli import (
    audit,
    call,
    campaign,
    db,
    demo,
    export,
    forms,
    keys,
    purge,
    serve,
    simulate,
    suppress,
    webhooks,
)
from survey_bot.cli.problems import environment_problem
from survey_bot.config import Settings
from survey_bot.errors import ConfigError, DatabaseNotReady, FormError
from survey_bot.logs import configure_logging

__all__ = ["build_parser", "main"]

# each module registers its commands
COMMANDS = (serve, demo, simulate, db, forms, call, campaign, suppress, export, purge, audit, keys, webhooks)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (2 for a mistake in settings or input, said in one line)."""
    args = build_parser().parse_args(argv)
    try:
        configure_logging()  # (refuses an unknown SURVEY_BOT_LOG_FORMAT in one line, like any setting)
        result: int = args.handler(args)
        return result
    except (ConfigError, DatabaseNotReady) as exc:
        print(f"survey-bot: {exc}", file=sys.stderr)
        return 2
    except FormError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        problem = environment_problem(exc, _database_url())
        if problem is None:
            raise
        print(f"survey-bot: {problem}", file=sys.stderr)
        return 2


def _database_url() -> str:
    try:
        return Settings.load().database_url
    except ConfigError:
        return ""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command."""
    parser = argparse.ArgumentParser(prog="survey-bot", description="Phone surveys and intake forms from JSON "
                                     "Schema, on Telnyx voice AI with a keypad fallback.")
    parser.add_argument("--version", action="version", version=f"survey-bot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(commands)
    return parser
