"""`survey-bot simulate`: a form's tests as data, played through the real app and a simulated Telnyx."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from survey_bot.cli.common import Commands, env_default
from survey_bot.errors import ConfigError, FormError, ScenarioError

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """Register `simulate`."""
    simulate = commands.add_parser(
        "simulate", help="play scenario files through the simulator; --check compares them with their expectations",
        description="Play each call of each scenario file (JSON or YAML; the shape is in the README and "
                    "survey_bot/sandbox/scenario_schema.json) through the real app and a simulated Telnyx on "
                    "127.0.0.1, and print what each collected. Exit 1 when --check finds a difference, 2 for a "
                    "scenario file that is not valid or a setting that is wrong.")
    simulate.add_argument("files", nargs="*", type=Path, metavar="SCENARIO_FILE", help="scenario files to play")
    simulate.add_argument("--example", metavar="FORM_ID",
                          help="print a starting scenario file for this form, with the expectations it passes "
                               "(default: play the files given)")
    simulate.add_argument("--forms", type=Path, metavar="DIR",
                          help="the folder of forms the files name" + env_default("SURVEY_BOT_FORMS_DIR",
                                                                                 "./forms or the bundled examples"))
    simulate.add_argument("--database", metavar="URL",
                          help="play on this database, migrated first (default: a new SQLite file in a temporary "
                               "folder; SURVEY_BOT_DATABASE_URL is not read)")
    simulate.add_argument("--check", action="store_true",
                          help="compare each call with its `expect` and exit 1 on any difference (default: off)")
    simulate.add_argument("--json", action="store_true", help="print the outcomes as JSON (default: text)")
    simulate.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from survey_bot.sandbox import scenario_runs

    if bool(args.files) == bool(args.example):
        print("survey-bot: give scenario files to play, or --example FORM_ID (not both)", file=sys.stderr)
        return 2
    try:
        if args.example:
            print(json.dumps(asyncio.run(scenario_runs.example(args.example, args.forms)), indent=2,
                             ensure_ascii=False))
            return 0
        played: int = asyncio.run(scenario_runs.play(args.files, args.forms, args.database, check=args.check,
                                                     as_json=args.json))
        return played
    except (ScenarioError, FormError) as exc:
        print(exc, file=sys.stderr)
        print(f"survey-bot: {len(exc.problems)} problem(s); nothing was played", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"survey-bot: {exc}", file=sys.stderr)
        return 2
