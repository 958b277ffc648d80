"""The group-commit batch path (processing.handle_batch, used by intake on SQLite) leaves exactly the rows and
answers that handle_event leaves when the same webhooks are processed one by one, however they are batched."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from survey_bot import processing, store
from survey_bot.db import make_engine, make_sessionmaker
from survey_bot.events import encode_client_state, parse_event
from survey_bot.flow import Command as FlowCommand
from survey_bot.forms import load_forms
from survey_bot.intake import Intake
from survey_bot.models import Response
from survey_bot.processing import FormCatalog, Outcome, handle_batch, handle_event

FORMS = load_forms(Path(__file__).resolve().parent.parent / "forms")
SURVEY_NUMBER = "+15550100001"
OUTBOUND_ID = "00000000-0000-4000-8000-00000000abcd"
FROZEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EVENT_IDS = itertools.count()


def envelope(event_type: str, call_id: str | None, second: int, event_id: str | None = None,
             client_state: dict[str, Any] | None = None, **payload: Any) -> str:
    if call_id is not None:
        payload["call_control_id"] = call_id
    if client_state is not None:
        payload["client_state"] = encode_client_state(client_state)
    event_id = event_id or f"ev-{next(EVENT_IDS)}"
    return json.dumps({"data": {"record_type": "event", "event_type": event_type, "id": event_id,
                                "occurred_at": f"2026-11-23T12:{second // 60:02d}:{second % 60:02d}.000000Z",
                                "payload": payload}})


def inbound_call(call_id: str, kind: str, rng: random.Random) -> list[str]:
    """One inbound call's webhooks (its client_state guessed from the flow's steps, as Telnyx echoes it)."""
    t = iter(range(rng.randint(0, 100) * 10, 10_000))
    history = [{"role": "assistant", "content": "0 to 10?"}, {"role": "user", "content": "nine"}]
    events = [envelope("call.initiated", call_id, next(t), direction="incoming", to=SURVEY_NUMBER, **{"from": "+1555"}),
              envelope("call.answered", call_id, next(t)),
              envelope("call.ai_gather.partial_results", call_id, next(t), partial_results={"nps": 9},
                       message_history=history),
              envelope("call.ai_gather.message_history_updated", call_id, next(t), message_history=history),
              envelope("call.dtmf.received", call_id, next(t), digit="1")]  # not in the flow: recorded, ignored
    if kind == "hangup":
        return [*events, envelope("call.hangup", call_id, next(t), hangup_cause="normal_clearing")]
    result = {"nps": 9, "satisfaction": "very_satisfied"} if kind == "complete" else {"nps": 9}
    events.append(envelope("call.ai_gather.ended", call_id, next(t), status="valid", result=result,
                           message_history=history))
    for name, digits in (("satisfaction", "2"), ("would_recommend", "7"), ("would_recommend", "1"),
                         ("topics", "")):
        events.append(envelope("call.gather.ended", call_id, next(t), status="valid" if digits else "timeout",
                               digits=digits, client_state={"s": "keypad", "f": name, "n": 1}))
    events.append(envelope("call.speak.ended", call_id, next(t), client_state={"s": "closing"}))
    return [*events, envelope("call.hangup", call_id, next(t), hangup_cause="normal_clearing")]


def oddities(rng: random.Random) -> list[str]:
    """Webhooks off the main path: unknown calls and numbers, outgoing legs, a second initiated, our own dial."""
    known = f"v3:odd-{rng.random()}"
    return [
        envelope("call.initiated", known, 1, direction="incoming", to=SURVEY_NUMBER),
        envelope("call.initiated", known, 2, direction="incoming", to=SURVEY_NUMBER),  # new id, same call
        envelope("call.answered", f"v3:nobody-{rng.random()}", 3),  # no response for this call
        envelope("call.initiated", f"v3:rejected-{rng.random()}", 4, direction="incoming", to="+19999999999"),
        envelope("call.initiated", f"v3:stranger-{rng.random()}", 5, direction="outgoing", to=SURVEY_NUMBER),
        envelope("call.initiated", "v3:dialled", 6, client_state={"r": OUTBOUND_ID}, direction="outgoing",
                 to="+15557654321", call_session_id="sess", call_leg_id="leg"),
        envelope("call.answered", "v3:dialled", 7, client_state={"r": OUTBOUND_ID}),
        envelope("call.custom_unknown_event", known, 8),
        envelope("call.answered", None, 9),  # no call at all
    ]


def deliveries(rng: random.Random, kinds: list[str]) -> list[str]:
    streams = [inbound_call(f"v3:call-{i}-{rng.random()}", kind, rng) for i, kind in enumerate(kinds)]
    streams.append(oddities(rng))
    merged: list[str] = []
    while any(streams):
        stream = rng.choice([s for s in streams if s])
        merged.append(stream.pop(0))
    for _ in range(rng.randint(0, 6)):  # redeliveries, some inside the same batch
        i = rng.randrange(len(merged))
        merged.insert(rng.randint(i, len(merged)), merged[i])
    return merged


def batches(bodies: list[str], rng: random.Random) -> list[list[str]]:
    out, i = [], 0
    while i < len(bodies):
        n = rng.randint(1, 12)
        out.append(bodies[i:i + n])
        i += n
    return out


async def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            return {table: [tuple(row) for row in (await connection.execute(text(f"SELECT * FROM {table} ORDER BY 1")))]
                    for table in ("responses", "webhook_events", "commands")}
    finally:
        await engine.dispose()


async def prepare(url: str) -> None:
    """An outbound response we dialled (no call_control_id yet), as `survey-bot call` leaves it."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            form = FORMS["customer_satisfaction"]
            for existing in FORMS.values():
                await store.form_version_id(session, existing, FROZEN)
            response = await store.create_response(session, form, direction="outgoing", now=FROZEN,
                                                   to_number="+15557654321")
            await session.execute(
                text("UPDATE responses SET id = :new WHERE id = :old"), {"new": OUTBOUND_ID, "old": response.id})
            await store.enqueue_commands(session, [FlowCommand("dial", {"to": "+15557654321"}, "dial")],
                                         response_id=OUTBOUND_ID, call_control_id=None, event_id=None, now=FROZEN)
    finally:
        await engine.dispose()


async def one_by_one(url: str, bodies: list[str], catalog: FormCatalog) -> list[Outcome]:
    engine = make_engine(url)
    outcomes = []
    try:
        sessions = make_sessionmaker(engine)
        for raw in bodies:
            async with sessions() as session, session.begin():
                outcomes.append(await handle_event(session, parse_event(raw), catalog))
    finally:
        await engine.dispose()
    return outcomes


async def batched(url: str, groups: list[list[str]], catalog: FormCatalog) -> list[Outcome | Exception]:
    engine = make_engine(url)
    outcomes: list[Outcome | Exception] = []
    try:
        sessions = make_sessionmaker(engine)
        for group in groups:
            async with sessions() as session, session.begin():
                outcomes += await handle_batch(session, [parse_event(raw) for raw in group], catalog)
    finally:
        await engine.dispose()
    return outcomes


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Freeze processing's clock and make response ids a repeatable sequence (reset with .reset())."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return FROZEN

    monkeypatch.setattr(processing, "datetime", Clock)

    class Ids:
        def __init__(self) -> None:
            self.reset()

        def reset(self) -> None:
            self.n = 0

        def __call__(self) -> uuid.UUID:
            self.n += 1
            return uuid.UUID(int=self.n)

    ids = Ids()
    monkeypatch.setattr(processing.uuid, "uuid4", ids)
    return ids


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1),
       kinds=st.lists(st.sampled_from(["complete", "keypad", "hangup"]), min_size=1, max_size=4))
def test_batches_leave_what_one_by_one_leaves(sqlite_template: Path, tmp_path: Path, frozen: Any, seed: int,
                                              kinds: list[str]) -> None:
    rng = random.Random(seed)
    bodies = deliveries(rng, kinds)
    groups = batches(bodies, rng)
    urls = []
    for name in ("reference", "batched"):
        path = tmp_path / f"{name}-{next(EVENT_IDS)}.db"  # a new path: store caches form versions per URL
        shutil.copyfile(sqlite_template, path)
        urls.append(f"sqlite+aiosqlite:///{path}")

    async def run() -> None:
        for url in urls:
            await prepare(url)
        frozen.reset()
        expected = await one_by_one(urls[0], bodies, FormCatalog(FORMS))
        frozen.reset()
        actual = await batched(urls[1], groups, FormCatalog(FORMS))
        assert actual == expected
        assert await dump(urls[1]) == await dump(urls[0])

    asyncio.run(run())


async def test_a_batch_whose_writes_fail_is_redone_event_by_event(database_url: str, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("group commit is the SQLite path")
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    intake = Intake(sessions, FormCatalog(FORMS), group_commit=True)
    intake.start()
    try:
        call_id = "v3:clash"
        async with sessions() as session, session.begin():  # a response already holds this call id...
            response = await store.create_response(session, FORMS["customer_satisfaction"], direction="outgoing",
                                                   now=FROZEN, call_control_id=call_id)
            other = await store.create_response(session, FORMS["customer_satisfaction"], direction="outgoing",
                                                now=FROZEN)
        good = envelope("call.answered", call_id, 1)
        # ...so linking it to the other response breaks the unique constraint at write time
        clash = envelope("call.initiated", call_id, 2, client_state={"r": other.id}, direction="outgoing")
        results = await asyncio.gather(*(intake.submit(parse_event(raw)) for raw in (good, clash)),
                                       return_exceptions=True)
        assert isinstance(results[0], Outcome) and results[0].state == "processed"
        assert isinstance(results[1], Exception)
        async with sessions() as session:
            answered = await session.scalar(select(Response.answered_at).where(Response.id == response.id))
        assert answered is not None
    finally:
        await intake.stop()
        await engine.dispose()
