"""`survey-bot call +1... --form ID`: queue the dial in the database and send it now through the SDK."""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import select

from survey_bot.cli.common import Commands
from survey_bot.dispatch.sender import Dispatcher
from survey_bot.intake.outbound import CallRequestError, start_outbound_call
from survey_bot.runtime import running
from survey_bot.storage.models import Command

__all__ = ["add_parser", "place_call"]


def add_parser(commands: Commands) -> None:
    """Register `call`."""
    call = commands.add_parser(
        "call", help="place an outbound survey call",
        description="Store a response and its dial, and send the dial through the SDK now; the running server "
                    "handles the call's webhooks. Needs TELNYX_API_KEY, TELNYX_CONNECTION_ID and "
                    "SURVEY_BOT_FROM_NUMBER (and TELNYX_BASE_URL to dial through a simulator).")
    call.add_argument("to", help="E.164 number to call, e.g. +15551234567")
    call.add_argument("--form", required=True, help="id of the form to ask (a file in SURVEY_BOT_FORMS_DIR)")
    call.add_argument("--locale", help="the locale the call speaks, one of the form's x-locales (e.g. es-US); "
                                       "default: the form's language menu, else its first locale")
    call.set_defaults(handler=lambda args: asyncio.run(place_call(args.to, args.form, args.locale)))


async def place_call(to: str, form_id: str, locale: str | None = None) -> int:
    """Place one outbound call; the running server handles its webhooks."""
    async with running() as runtime:
        try:
            async with runtime.sessions() as session, session.begin():
                response = await start_outbound_call(session, runtime.catalog, runtime.settings, to, form_id,
                                                       locale)
        except CallRequestError as exc:
            print(f"survey-bot: {exc}", file=sys.stderr)
            return 2
        dispatcher = Dispatcher(runtime.sessions, runtime.client, runtime.catalog)
        try:
            await dispatcher.run_once()
        finally:
            await dispatcher.stop()
        async with runtime.sessions() as session:
            dial = await session.scalar(select(Command).where(Command.response_id == response.id))
        status = dial.status if dial else "missing"
        print(f"response {response.id}: dial to {to} for form {form_id}: {status}"
              + (f" ({dial.outcome})" if dial and dial.outcome and status != "sent" else ""))
        return 0 if status == "sent" else 1
