"""`survey-bot call +1... --form ID`: queue the dial in the database and send it now through the SDK."""

from __future__ import annotations

import sys

from sqlalchemy import select

from survey_bot.dispatch.sender import Dispatcher
from survey_bot.intake.outbound import CallRequestError, start_outbound_call
from survey_bot.runtime import running
from survey_bot.storage.models import Command

__all__ = ["place_call"]


async def place_call(to: str, form_id: str) -> int:
    """Place one outbound call; the running server handles its webhooks."""
    async with running() as runtime:
        try:
            async with runtime.sessions() as session, session.begin():
                response = await start_outbound_call(session, runtime.catalog, runtime.settings, to, form_id)
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
