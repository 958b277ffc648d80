"""`survey-bot serve`: run the webhook server, the admin API and the dashboard."""

from __future__ import annotations

import argparse
import os

from survey_bot.cli.common import Commands, env_default
from survey_bot.config import DISPATCHER_MODES

__all__ = ["add_parser"]


def add_parser(commands: Commands) -> None:
    """Register `serve`."""
    serve = commands.add_parser("serve", help="run the webhook server, admin API and dashboard",
                                description="Run survey-bot for Telnyx: webhooks at /webhooks/telnyx, the admin API at "
                                            "/api, the dashboard at /dashboard/. Settings come from the environment "
                                            "(SURVEY_BOT_*, TELNYX_*; see the README).")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    serve.add_argument("--workers", type=int, default=1,
                       help="web processes sharing the port (default: %(default)s; several need PostgreSQL)")
    serve.add_argument("--server", choices=["uvicorn", "hypercorn"], default="uvicorn",
                       help="ASGI server (default: %(default)s, measured fastest here)")
    serve.add_argument("--insecure-skip-verify", action="store_true",
                       help="accept webhooks WITHOUT checking signatures, for local experiments only "
                            "(sets SURVEY_BOT_INSECURE_SKIP_VERIFY)")
    serve.add_argument("--dispatcher", choices=DISPATCHER_MODES,
                       help="send Telnyx commands from a child process beside each web process (on another core) "
                            "or inline in it" + env_default("SURVEY_BOT_DISPATCHER", "process"))
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from survey_bot.observe.multiprocess import metrics_directory

    if args.insecure_skip_verify:
        os.environ["SURVEY_BOT_INSECURE_SKIP_VERIFY"] = "1"
    # the web processes (uvicorn's workers too) read their settings from the environment
    os.environ["SURVEY_BOT_DISPATCHER"] = args.dispatcher or os.environ.get("SURVEY_BOT_DISPATCHER") or "process"
    # Every web process and dispatcher child keeps its metrics in one directory, so a scrape of any worker adds
    # them all; prometheus_client reads it once, when imported, so it is set before the server is.
    with metrics_directory():
        from survey_bot.serving.run import serve

        return serve(host=args.host, port=args.port, workers=args.workers, server=args.server)
