"""survey-bot's command line: serve, demo, db upgrade, forms check, call, export."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from survey_bot.config import DISPATCHER_MODES, Settings
from survey_bot.errors import ConfigError, DatabaseNotReady, FormError
from survey_bot.logs import configure_logging

__all__ = ["configure_logging", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging()
    try:
        result: int = args.handler(args)
        return result
    except (ConfigError, DatabaseNotReady) as exc:
        print(f"survey-bot: {exc}", file=sys.stderr)
        return 2
    except FormError as exc:
        print(exc, file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="survey-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the webhook server and admin API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--server", choices=["uvicorn", "hypercorn"], default="uvicorn",
                       help="ASGI server (uvicorn with uvloop+httptools measured fastest here)")
    serve.add_argument("--insecure-skip-verify", action="store_true",
                       help="accept webhooks WITHOUT checking signatures (local experiments only)")
    serve.add_argument("--dispatcher", choices=DISPATCHER_MODES,
                       help="send Telnyx commands from a child process beside each web process (default, uses "
                            "another core) or inline in it; default: $SURVEY_BOT_DISPATCHER, else process")
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser("demo", help="run example calls on the built-in Telnyx simulator")
    demo.add_argument("--keep", metavar="PATH", help="keep the demo database at PATH")
    demo.add_argument("--serve", nargs="?", type=int, const=8000, metavar="PORT",
                      help="keep the app and simulator running afterwards (dashboard on PORT, default 8000)")
    demo.set_defaults(handler=_demo)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="migrate SURVEY_BOT_DATABASE_URL to the newest schema")
    upgrade.set_defaults(handler=_db_upgrade)

    forms = commands.add_parser("forms", help="form files")
    forms_commands = forms.add_subparsers(dest="forms_command", required=True)
    check = forms_commands.add_parser("check", help="validate forms (default: every form in the forms folder)")
    check.add_argument("paths", nargs="*", type=Path)
    check.set_defaults(handler=_forms_check)

    call = commands.add_parser("call", help="place an outbound survey call")
    call.add_argument("to", help="E.164 number to call, e.g. +15551234567")
    call.add_argument("--form", required=True, help="form id")
    call.set_defaults(handler=_call)

    _add_export(commands)
    return parser


def _add_export(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from survey_bot.cli.export import add_export_command  # (its heavy imports only when the CLI starts)

    add_export_command(commands)


def _serve(args: argparse.Namespace) -> int:
    from survey_bot.serving.run import serve

    if args.insecure_skip_verify:
        os.environ["SURVEY_BOT_INSECURE_SKIP_VERIFY"] = "1"
    # the web processes (uvicorn's workers too) read their settings from the environment
    os.environ["SURVEY_BOT_DISPATCHER"] = args.dispatcher or os.environ.get("SURVEY_BOT_DISPATCHER") or "process"
    return serve(host=args.host, port=args.port, workers=args.workers, server=args.server)


def _demo(args: argparse.Namespace) -> int:
    from survey_bot.sandbox.demo import run_demo

    logging.getLogger("alembic").setLevel(logging.WARNING)  # the demo's summary is what matters
    try:
        return asyncio.run(run_demo(keep=Path(args.keep) if args.keep else None, serve_port=args.serve))
    except KeyboardInterrupt:
        return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from survey_bot.storage.migrate import head_revision, upgrade

    settings = Settings.load()
    asyncio.run(upgrade(settings.database_url))
    print(f"database is at revision {head_revision(settings.database_url)} (head)")
    return 0


def _forms_check(args: argparse.Namespace) -> int:
    from survey_bot.runtime import check_form_files

    paths: list[Path] = list(args.paths)
    if not paths:
        folder = Settings.load().forms_path
        paths = sorted(folder.glob("*.json"))
        if not paths:
            print(f"survey-bot: no forms (*.json) in {folder}", file=sys.stderr)
            return 1
    problems = check_form_files(paths)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {len({p.file for p in problems})} form(s)", file=sys.stderr)
        return 1
    print(f"{len(paths)} form(s) OK: " + ", ".join(p.stem for p in paths))
    return 0


def _call(args: argparse.Namespace) -> int:
    from survey_bot.cli.call import place_call

    return asyncio.run(place_call(args.to, args.form))
