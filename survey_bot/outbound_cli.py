"""`survey-bot call +1... --form ID`: queue the dial in the database and send it now through the SDK."""

from __future__ import annotations

import sys

from sqlalchemy import select

from .config import Settings
from .db import make_engine, make_sessionmaker
from .dispatcher import Dispatcher
from .forms import load_forms
from .migrate import ensure_at_head
from .models import Command
from .outbound import CallRequestError, start_outbound_call
from .processing import FormCatalog
from .telnyx_client import build_client

__all__ = ["place_call"]


async def place_call(to: str, form_id: str) -> int:
    """Place one outbound call; the running server handles its webhooks."""
    settings = Settings.load()
    catalog = FormCatalog(load_forms(settings.forms_path), settings.default_form)
    engine = make_engine(settings.database_url)
    client = build_client(settings)
    try:
        await ensure_at_head(engine, settings.database_url)
        sessions = make_sessionmaker(engine)
        try:
            async with sessions() as session, session.begin():
                response = await start_outbound_call(session, catalog, settings, to, form_id)
        except CallRequestError as exc:
            print(f"survey-bot: {exc}", file=sys.stderr)
            return 2
        await Dispatcher(sessions, client, catalog).run_once()
        async with sessions() as session:
            dial = await session.scalar(select(Command).where(Command.response_id == response.id))
        status = dial.status if dial else "missing"
        print(f"response {response.id}: dial to {to} for form {form_id}: {status}"
              + (f" ({dial.outcome})" if dial and dial.outcome and status != "sent" else ""))
        return 0 if status == "sent" else 1
    finally:
        await client.close()
        await engine.dispose()
