"""Live calls: snapshots of the calls in progress, their Server-Sent Events stream, and simulated calls to watch.

The stream polls the database (not in-process signals), so it sees calls handled by any server process:
every POLL seconds it reads the ids and `updated_at` of the calls in progress (and of those it is showing),
loads only the rows that changed, and sends each as a JSON `call` event, or `ended` once it is over.
It is bounded (MAX_SECONDS, then `bye`; EventSource reconnects) and stops when the client disconnects.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from quart import Quart
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.errors import DigitsError, FormError
from survey_bot.forms.answers import nest, validate_field
from survey_bot.forms.digits import parse_digits
from survey_bot.forms.model import Field, Form, FormCatalog
from survey_bot.reports import metrics
from survey_bot.simulator import AIStep, Delivery, FakeTelnyx, KeypadEntry, KeypadTimeout, Scenario
from survey_bot.storage.form_versions import form_of_version
from survey_bot.storage.models import Response
from survey_bot.web.state import state

__all__ = ["SimulatorUnavailable", "attach_simulator", "call_snapshot", "ended_snapshot", "live_calls",
           "recently_ended", "sample_scenario", "show_value", "simulator_status", "start_simulated_call",
           "stream"]

SIMULATOR_KEY = "survey_bot.simulator"
MAX_LIVE = 100
TRANSCRIPT_TURNS = 60
SOURCE_LABELS = {"ai": "AI", "ai_partial": "AI (partial)", "dtmf": "keypad"}
OUTCOME_LABELS = {"completed": "Completed", "partial": "Partial", "breakoff": "Breakoff",
                  "refused": "Refused / no answer", "failed": "Failed"}


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


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC (naive values, as SQLite returns them, are UTC)."""
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()


async def _form_of(db: AsyncSession, catalog: FormCatalog, response: Response) -> Form | None:
    try:
        return await form_of_version(db, catalog, response.form_id, response.form_version_id)
    except FormError:
        return None


def call_snapshot(response: Response, form: Form | None) -> dict[str, Any]:
    """A call in progress as the live page shows it: every field (answered or not) and the transcript."""
    fields: list[Field] = list(form.fields) if form else []
    titles = {f.name: f.title for f in fields}
    names = [f.name for f in fields] + [n for n in response.answers if n not in titles]
    answers = [{"name": n, "title": titles.get(n, n), "value": show_value(response.answers[n]) if n in response.answers
                else None, "source": response.sources.get(n), "source_label": SOURCE_LABELS.get(
                    response.sources.get(n, ""), "")} for n in names]
    turns = [t for t in response.message_history if isinstance(t, Mapping)][-TRANSCRIPT_TURNS:]
    return {
        "id": response.id, "form_id": response.form_id, "form_title": form.title if form else response.form_id,
        "status": response.status, "direction": response.direction, "from": response.from_number,
        "to": response.to_number, "started_at": iso(response.started_at),
        "current_field": titles.get(response.current_field or "", response.current_field),
        "answers": answers, "url": f"/dashboard/responses/{response.id}",
        "transcript": [{"role": str(t.get("role", "")), "content": str(t.get("content", ""))} for t in turns],
    }


def ended_snapshot(response: Response, form: Form | None) -> dict[str, Any]:
    """A call that is over, as a row of the responses table."""
    outcome = metrics.outcome_of(metrics.ResponseRecord.of(response))
    total = len(form.fields) if form else len(response.answers)
    final = sum(1 for s in response.sources.values() if s in metrics.FINAL_SOURCES)
    return {"id": response.id, "form_id": response.form_id, "form_title": form.title if form else response.form_id,
            "status": response.status, "outcome": OUTCOME_LABELS.get(outcome or "", response.status),
            "started_at": iso(response.started_at), "ended_at": iso(response.ended_at),
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


async def stream(app: Quart) -> AsyncIterator[str]:
    """Yield Server-Sent Events about live calls for at most DASHBOARD_LIVE_MAX_SECONDS."""
    app_state = state(app)
    poll = float(app.config.get("DASHBOARD_LIVE_POLL_SECONDS", 0.75))
    limit = float(app.config.get("DASHBOARD_LIVE_MAX_SECONDS", 300))
    loop = asyncio.get_running_loop()
    deadline, quiet_since = loop.time() + limit, loop.time()
    shown: dict[str, datetime] = {}
    yield "retry: 2000\n\n"
    first = True
    while loop.time() < deadline:
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


# --- simulated calls ---------------------------------------------------------------------------------------


class SimulatorUnavailable(RuntimeError):
    """No simulated call can be placed; the message says why and what to do instead."""


def attach_simulator(app: Quart, fake: FakeTelnyx) -> None:
    """Let the dashboard start calls on `fake` (which must sign webhooks with the app's trusted key)."""
    app.extensions[SIMULATOR_KEY] = fake


def simulator_status(app: Quart) -> dict[str, Any]:
    """Whether "try it" works here, and if not, why (shown on the forms page)."""
    fake = app.extensions.get(SIMULATOR_KEY)
    settings = state(app).settings
    if not isinstance(fake, FakeTelnyx):
        return {"ready": False, "reason": (
            f"This server sends call commands to {settings.telnyx_base_url or 'Telnyx'} and trusts only webhooks "
            "signed with its TELNYX_PUBLIC_KEY, so the built-in simulator cannot drive its calls. "
            "To try the forms without a phone, run `survey-bot demo`, which starts the app wired to the simulator.")}
    if fake.signer.public_key_b64 != settings.telnyx_public_key:
        return {"ready": False, "reason": "The attached simulator signs webhooks with a key this server does not "
                                          "trust (TELNYX_PUBLIC_KEY differs), so its calls would be refused."}
    return {"ready": True, "reason": ""}


def _digit_candidates(field: Field) -> list[str]:
    keypad = field.keypad
    if keypad is None:
        return []
    if keypad.kind in ("menu", "boolean"):
        return sorted(keypad.choices)
    if keypad.kind == "date":
        return [datetime.now(UTC).strftime("%Y%m%d"), "20260115"]
    if keypad.kind == "time":
        return ["0930", "1400"]
    return [d * n + keypad.terminator for n in range(keypad.min_digits, keypad.max_digits + 1) for d in "7315"]


def _value_candidates(schema: Mapping[str, Any]) -> list[Any]:
    items = schema.get("items")
    item_enum = items.get("enum") if isinstance(items, Mapping) else None
    return [*schema.get("examples", []), *schema.get("enum", [])[:1], "Sam Sample from the simulator",
            [*(item_enum or ["sample"])][:1], True, 1]


def _sample(field: Field) -> tuple[Any, str | None] | None:
    """A valid answer for `field`, with the keypad digits that give it when it has a keypad."""
    for digits in _digit_candidates(field):
        try:
            return parse_digits(field, digits), digits
        except (DigitsError, ValueError):
            continue
    return next(((v, None) for v in _value_candidates(field.schema) if validate_field(field, v) is None), None)


def _question(field: Field) -> str:
    return field.prompt if field.prompt.endswith("?") else f"And your {field.title.lower()}?"


def sample_scenario(form: Form, to_number: str, delay_s: float = 0.5) -> Scenario:
    """A caller who answers the AI one question at a time and types the last keypad-able answer instead."""
    samples = {f.name: s for f in form.fields if (s := _sample(f)) is not None}
    keyed = [f.name for f in form.fields if f.name in samples and samples[f.name][1] is not None]
    rescued = next((n for n in reversed(keyed) if form.field(n).required), keyed[-1] if keyed else None)
    heard: dict[str, Any] = {}
    steps = []
    for f in form.fields:
        if f.name in samples and f.name != rescued:
            heard[f.name] = samples[f.name][0]
            steps.append(AIStep(nest(heard), _question(f), show_value(samples[f.name][0])))
    if rescued is not None:
        steps.append(AIStep(nest(heard), _question(form.field(rescued)), "Can I type that on the keypad instead?"))
    queue = [f for f in form.fields if f.keypad is not None and f.name not in heard]
    keypad: list[KeypadEntry] = []
    for f in queue:
        digits = samples[f.name][1] if f.name in samples else None
        keypad.append(digits or KeypadTimeout())
    return Scenario(from_number="+15557770100", to_number=to_number, ai_steps=steps, ai_status="valid",
                    ai_result=nest(heard), keypad=keypad, delivery=Delivery(delay_s=delay_s))


async def start_simulated_call(app: Quart, form_id: str) -> str:
    """Ring this app from the attached simulator with a sample caller for `form_id`; return the call id."""
    status = simulator_status(app)
    if not status["ready"]:
        raise SimulatorUnavailable(status["reason"])
    catalog = state(app).catalog
    form = catalog.forms.get(form_id)
    if form is None:
        raise SimulatorUnavailable(f"The form {form_id!r} is not loaded on this server.")
    if form.numbers:
        number = form.numbers[0]
    elif catalog.default_form == form_id:
        number = "+15550109999"
    else:
        raise SimulatorUnavailable(f"No number reaches {form_id!r}: give it x-numbers or make it the default form.")
    if catalog.for_number(number) is not form:
        raise SimulatorUnavailable(f"Calls to {number} reach another form, not {form_id!r}.")
    fake: FakeTelnyx = app.extensions[SIMULATOR_KEY]
    delay = float(app.config.get("DASHBOARD_SIMULATOR_DELAY_S", 0.5))
    return fake.start_call(sample_scenario(form, number, delay))
