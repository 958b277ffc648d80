"""Live calls: snapshots of the calls in progress and their Server-Sent Events stream.

The stream polls the database (not in-process signals), so it sees calls handled by any server process:
every POLL seconds it reads the ids and `updated_at` of the calls in progress (and of those it is showing),
loads only the rows that changed, and sends each as a JSON `call` event, or `ended` once it is over.
It is bounded (MAX_SECONDS, then `bye`; EventSource reconnects) and stops when the client disconnects.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from quart import Quart
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.errors import FormError
from survey_bot.forms.model import Form, FormCatalog
from survey_bot.reports import metrics
from survey_bot.reports.read_model import answer_entries
from survey_bot.storage.form_versions import form_of_version
from survey_bot.storage.models import Response
from survey_bot.utc import iso_utc
from survey_bot.vocabulary import FINAL_SOURCES, OUTCOME_LABELS, SOURCE_LABELS
from survey_bot.web.state import state

__all__ = ["call_snapshot", "ended_snapshot", "live_calls", "recently_ended", "show_value", "stream"]

MAX_LIVE = 100
TRANSCRIPT_TURNS = 60


def show_value(value: Any) -> str:
    """An answer as people read it: yes/no, lists joined, dates as written, nothing as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(show_value(item) for item in value) or "(none)"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


async def _form_of(db: AsyncSession, catalog: FormCatalog, response: Response) -> Form | None:
    try:
        return await form_of_version(db, catalog, response.form_id, response.form_version_id)
    except FormError:
        return None


def call_snapshot(response: Response, form: Form | None) -> dict[str, Any]:
    """A call in progress as the live page shows it: every field (answered or not) and the transcript."""
    entries = answer_entries(form, response)
    answers = [{"name": e.name, "title": e.title, "value": show_value(e.value) if e.answered else None,
                "source": e.source, "source_label": SOURCE_LABELS.get(e.source or "", "")} for e in entries]
    titles = {e.name: e.title for e in entries}
    history = response.message_history if isinstance(response.message_history, list) else []
    turns = [t for t in history if isinstance(t, Mapping)][-TRANSCRIPT_TURNS:]
    return {
        "id": response.id, "form_id": response.form_id, "form_title": form.title if form else response.form_id,
        "status": response.status, "direction": response.direction, "from": response.from_number,
        "to": response.to_number, "started_at": iso_utc(response.started_at),
        "current_field": titles.get(response.current_field or "", response.current_field),
        "answers": answers, "url": f"/dashboard/responses/{response.id}",
        "transcript": [{"role": str(t.get("role", "")), "content": str(t.get("content", ""))} for t in turns],
    }


def ended_snapshot(response: Response, form: Form | None) -> dict[str, Any]:
    """A call that is over, as a row of the responses table."""
    outcome = metrics.outcome_of(metrics.ResponseRecord.of(response))
    total = len(form.fields) if form else len(response.answers)
    final = sum(1 for s in response.sources.values() if s in FINAL_SOURCES)
    return {"id": response.id, "form_id": response.form_id, "form_title": form.title if form else response.form_id,
            "status": response.status, "outcome": OUTCOME_LABELS.get(outcome or "", response.status),
            "started_at": iso_utc(response.started_at), "ended_at": iso_utc(response.ended_at),
            "answered": f"{final} of {total}", "url": f"/dashboard/responses/{response.id}"}


async def live_calls(db: AsyncSession, catalog: FormCatalog) -> list[dict[str, Any]]:
    """The calls in progress, newest first."""
    rows = (await db.execute(select(Response).where(Response.status == "in_progress")
                             .order_by(Response.started_at.desc()).limit(MAX_LIVE))).scalars()
    return [call_snapshot(r, await _form_of(db, catalog, r)) for r in rows]


async def recently_ended(db: AsyncSession, catalog: FormCatalog, limit: int = 10) -> list[dict[str, Any]]:
    """The calls that ended last."""
    rows = (await db.execute(select(Response).where(Response.status != "in_progress")
                             .order_by(Response.updated_at.desc()).limit(limit))).scalars()
    return [ended_snapshot(r, await _form_of(db, catalog, r)) for r in rows]


def _event(name: str, data: Mapping[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _changes(db: AsyncSession, catalog: FormCatalog, shown: dict[str, datetime]) -> list[str]:
    """Events for the calls that changed since `shown` (id -> updated_at sent), updating `shown`."""
    heads = (await db.execute(
        select(Response.id, Response.updated_at).where(or_(Response.status == "in_progress",
                                                           Response.id.in_(list(shown))))
        .order_by(Response.started_at.desc()).limit(MAX_LIVE + len(shown)))).all()
    for gone in set(shown) - {rid for rid, _ in heads}:
        del shown[gone]
    changed = [rid for rid, updated in heads if shown.get(rid) != updated]
    if not changed:
        return []
    rows = (await db.execute(select(Response).where(Response.id.in_(changed))
                             .order_by(Response.started_at))).scalars().all()
    events = []
    for row in rows:
        form = await _form_of(db, catalog, row)
        if row.status == "in_progress":
            shown[row.id] = row.updated_at
            events.append(_event("call", call_snapshot(row, form)))
        elif shown.pop(row.id, None) is not None:
            events.append(_event("ended", ended_snapshot(row, form)))
    return events


async def stream(app: Quart, still_signed_in: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
    """Yield Server-Sent Events about live calls for at most DASHBOARD_LIVE_MAX_SECONDS, while the session
    that opened the stream stays open (a logout elsewhere ends it within a poll)."""
    app_state = state(app)
    poll = float(app.config.get("DASHBOARD_LIVE_POLL_SECONDS", 0.75))
    limit = float(app.config.get("DASHBOARD_LIVE_MAX_SECONDS", 300))
    loop = asyncio.get_running_loop()
    deadline, quiet_since = loop.time() + limit, loop.time()
    shown: dict[str, datetime] = {}
    yield "retry: 2000\n\n"
    first = True
    while loop.time() < deadline:
        if not await still_signed_in():
            yield _event("bye", {"reconnect": False})
            return
        async with app_state.sessions() as db:
            events = await _changes(db, app_state.catalog, shown)
        for event in events:
            yield event
        if first:  # the calls live right now: the page drops any it shows that ended while disconnected
            first = False
            yield _event("sync", {"live": list(shown)})
        if events:
            quiet_since = loop.time()
        elif loop.time() - quiet_since > 15:  # a comment keeps proxies from closing an idle stream
            quiet_since = loop.time()
            yield ": keep-alive\n\n"
        await asyncio.sleep(poll)
    yield _event("bye", {"reconnect": True})
