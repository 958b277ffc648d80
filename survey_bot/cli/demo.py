"""`survey-bot demo`: example calls on the built-in Telnyx simulator (no account needed)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from survey_bot.cli.common import Commands
from survey_bot.cli.problems import check_writable

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """Register `demo`."""
    demo = commands.add_parser(
        "demo", help="play example calls on the built-in Telnyx simulator",
        description="Run the app and a simulated Telnyx on 127.0.0.1 and play example calls: the bundled example "
                    "forms' calls (forms/scenarios/), or with --forms the example callers of your own forms. Prints "
                    "what each call collected. Reads no SURVEY_BOT_* or TELNYX_* variable.")
    demo.add_argument("--forms", type=Path, metavar="DIR",
                      help="play your forms in DIR (each with the example calls `simulate --example` writes) "
                           "instead of the bundled examples (default: the bundled examples)")
    demo.add_argument("--keep", type=Path, metavar="PATH",
                      help="keep the demo's SQLite database at PATH (default: a new temporary folder)")
    demo.add_argument("--serve", nargs="?", type=int, const=8000, metavar="PORT",
                      help="keep the app and simulator running afterwards, the dashboard on PORT (default 8000 when "
                           "given without a port)")
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from survey_bot.sandbox.demo import run_demo

    if args.keep is not None:
        check_writable(args.keep, "--keep")
    try:
        return asyncio.run(run_demo(keep=args.keep, serve_port=args.serve, forms_dir=args.forms))
    except KeyboardInterrupt:
        return 0
