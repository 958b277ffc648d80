"""The write path (intake.write_path.handle_batch, group-committed by intake on both databases) leaves exactly
the rows and answers that batches of one (handle_event) leave when the same webhooks come one by one, however
they are batched, with or without the writer's response cache."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import random
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event as sa_event
from sqlalchemy import select, text

from survey_bot.forms.load import load_forms
from survey_bot.forms.model import FormCatalog
from survey_bot.intake import write_path as processing
from survey_bot.intake.write_path import Outcome, handle_batch, handle_event
from survey_bot.intake.writer import Intake
from survey_bot.storage import outbox, responses
from survey_bot.storage.engine import make_engine, make_sessionmaker
from survey_bot.storage.form_versions import form_version_id
from survey_bot.storage.models import Response
from survey_bot.storage.records import IDENTITY_FIELDS, ResponseRecord, new_record
from survey_bot.storage.response_cache import ResponseCache
from survey_bot.telephony.envelope import encode_client_state, parse_event

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
                await form_version_id(session, existing, FROZEN)
            await add_response(session, form, response_id=OUTBOUND_ID, to_number="+15557654321")
            rows = outbox.command_rows([outbox.Request("dial", "dial", {"to": "+15557654321"})],
                                       response_id=OUTBOUND_ID, call_control_id=None, event_id=None, now=FROZEN)
            await outbox.enqueue(session, rows)
    finally:
        await engine.dispose()


async def add_response(session: Any, form: Any, *, response_id: str | None = None, call_control_id: str | None = None,
                       to_number: str | None = None) -> ResponseRecord:
    """An outbound response as `survey-bot call` stores it (no call yet unless `call_control_id`)."""
    record = new_record(response_id or str(uuid.uuid4()), form.form_id, await form_version_id(session, form, FROZEN),
                        "outgoing", FROZEN, call_control_id=call_control_id, to_number=to_number)
    await responses.insert_responses(session, [record])
    return record


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


async def test_a_batch_whose_writes_fail_is_redone_event_by_event(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    intake = Intake(sessions, FormCatalog(FORMS))
    intake.start()
    try:
        call_id = "v3:clash"
        async with sessions() as session, session.begin():  # a response already holds this call id...
            response = await add_response(session, FORMS["customer_satisfaction"], call_control_id=call_id)
            other = await add_response(session, FORMS["customer_satisfaction"])
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


# ---- the writer's response cache (survey_bot/response_cache.py) ---------------------------------------------
# Intake's writer keeps the records it committed last and reuses them while a response's identity columns
# (updated_at above all) say nobody else wrote it since. These tests drive that writer by hand, batch by batch
# and with other writers in between, and compare every row with a run that never had a cache.


@pytest.fixture
def ticking(frozen: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Like `frozen`, but each reading of processing's clock is a millisecond after the last, as a real clock
    moves: every write leaves its own `updated_at`. `.reset()` restarts the clock and the ids."""

    class Clock(datetime):
        ticks = 0

        @classmethod
        def now(cls, tz: Any = None) -> Any:
            cls.ticks += 1
            return FROZEN + timedelta(milliseconds=cls.ticks)

    monkeypatch.setattr(processing, "datetime", Clock)

    class Restart:
        def reset(self) -> None:
            Clock.ticks = 0
            frozen.reset()

    return Restart()


FIRST_RESPONSE_ID = str(uuid.UUID(int=1))  # the first response id `frozen` hands out after a reset


def sqlite_copies(template: Path, tmp_path: Path, count: int) -> list[str]:
    """Fresh databases at head, each at a new path (store caches form version ids per URL)."""
    urls = []
    for _ in range(count):
        path = tmp_path / f"db-{next(EVENT_IDS)}.db"
        shutil.copyfile(template, path)
        urls.append(f"sqlite+aiosqlite:///{path}")
    return urls


def comparable(record: ResponseRecord) -> dict[str, Any]:
    """A record's identity and state, datetimes as naive UTC (SQLite hands back naive values)."""
    values = {name: getattr(record, name) for name in IDENTITY_FIELDS}
    values.update(dataclasses.asdict(record.state))
    return {name: value.astimezone(UTC).replace(tzinfo=None)
            if isinstance(value, datetime) and value.tzinfo is not None else value
            for name, value in values.items()}


class RolledBack(Exception):
    """Raised inside a batch's transaction so it does not commit."""


class Writer:
    """Intake's single writer, by hand: a transaction per batch, then the cache committed (or discarded when the
    transaction rolled back), as Intake._commit_batch does. Counts, per batch, the statements that read whole
    response rows: the load the cache is there to save."""

    def __init__(self, url: str, cache: ResponseCache | None) -> None:
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        self.catalog = FormCatalog(FORMS)
        self.cache = cache
        self.full_loads: list[int] = []  # one entry per committed batch
        self._full = 0
        sa_event.listen(self.engine.sync_engine, "before_cursor_execute", self._saw)

    def _saw(self, _connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sql = " ".join(statement.split())
        if sql.startswith("SELECT") and " FROM responses" in sql and "responses.message_history" in sql:
            self._full += 1

    async def batch(self, group: list[str]) -> list[Outcome | Exception]:
        before = self._full
        async with self.sessions() as session, session.begin():
            results = await handle_batch(session, [parse_event(raw) for raw in group], self.catalog, self.cache)
        if self.cache is not None:
            self.cache.commit()
        self.full_loads.append(self._full - before)
        return results

    async def rolled_back_batch(self, group: list[str]) -> None:
        with pytest.raises(RolledBack):
            async with self.sessions() as session, session.begin():
                await handle_batch(session, [parse_event(raw) for raw in group], self.catalog, self.cache)
                raise RolledBack
        if self.cache is not None:
            self.cache.discard()

    async def alone(self, raw: str) -> Outcome:
        """Another writer: a batch of one without the cache, as the dispatcher records a refusal."""
        async with self.sessions() as session, session.begin():
            return await handle_event(session, parse_event(raw), self.catalog)

    async def stored(self, response_id: str) -> ResponseRecord:
        async with self.sessions() as session:
            (record,) = await responses.load_records(session, [response_id], [])
        return record

    async def open_responses(self) -> list[ResponseRecord]:
        """Every stored response whose call has not ended (the ones the writer keeps in its cache)."""
        async with self.sessions() as session:
            ids = (await session.scalars(select(Response.id).where(Response.ended_at.is_(None)))).all()
            return await responses.load_records(session, ids, [])

    async def assert_cache_holds_what_is_stored(self) -> None:
        """Each open response is in the cache exactly as committed (so the next batch reads it from there)."""
        assert self.cache is not None
        for record in await self.open_responses():
            held = self.cache.current(record)
            assert held is not None, f"response {record.id} is not in the cache"
            assert comparable(held) == comparable(record)

    async def close(self) -> None:
        await self.engine.dispose()


def round_robin(streams: list[list[str]]) -> list[str]:
    merged: list[str] = []
    while any(streams):
        for stream in streams:
            if stream:
                merged.append(stream.pop(0))
    return merged


async def test_batches_with_the_cache_leave_what_batches_without_it_leave(sqlite_template: Path, tmp_path: Path,
                                                                         ticking: Any) -> None:
    rng = random.Random(7)
    streams = [inbound_call(f"v3:cached-{kind}-{next(EVENT_IDS)}", kind, rng) for kind in ("complete", "keypad",
                                                                                            "hangup")]
    streams[0].pop()  # no hangup: that call is still up at the end, so its response stays in the cache
    bodies = round_robin(streams)
    sizes = itertools.cycle((1, 2, 3))
    groups, i = [], 0
    while i < len(bodies):
        n = next(sizes)
        groups.append(bodies[i:i + n])
        i += n
    reference_url, cached_url = sqlite_copies(sqlite_template, tmp_path, 2)

    ticking.reset()
    reference = Writer(reference_url, None)
    try:
        expected = [result for group in groups for result in await reference.batch(group)]
    finally:
        await reference.close()

    ticking.reset()
    cache = ResponseCache()
    cached = Writer(cached_url, cache)
    try:
        actual = []
        for group in groups:
            actual += await cached.batch(group)
            await cached.assert_cache_holds_what_is_stored()
        assert len(cache) >= 1  # at least the call still up
    finally:
        await cached.close()

    assert actual == expected
    assert await dump(cached_url) == await dump(reference_url)
    assert len(groups) > 10
    assert sum(reference.full_loads) > 0  # without the cache, batches load the rows they touch...
    assert cached.full_loads == [0] * len(groups)  # ...with it, none does: each record was cached when committed


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1),
       kinds=st.lists(st.sampled_from(["complete", "keypad", "hangup"]), min_size=1, max_size=4))
def test_batches_with_the_cache_leave_what_one_by_one_leaves(sqlite_template: Path, tmp_path: Path, frozen: Any,
                                                             seed: int, kinds: list[str]) -> None:
    """Interleaved calls, redeliveries (of ended calls too), our own dial linked, oddities: with the cache."""
    rng = random.Random(seed)
    bodies = deliveries(rng, kinds)
    groups = batches(bodies, rng)
    reference_url, cached_url = sqlite_copies(sqlite_template, tmp_path, 2)

    async def run() -> None:
        for url in (reference_url, cached_url):
            await prepare(url)
        frozen.reset()
        expected = await one_by_one(reference_url, bodies, FormCatalog(FORMS))
        frozen.reset()
        cache = ResponseCache()
        writer = Writer(cached_url, cache)
        try:
            actual = [result for group in groups for result in await writer.batch(group)]
            await writer.assert_cache_holds_what_is_stored()
        finally:
            await writer.close()
        assert actual == expected
        assert len(cache) >= 2  # the oddities' answered call and our dialled call are still up
        assert await dump(cached_url) == await dump(reference_url)

    asyncio.run(run())


def foreign_write_script(call_id: str, foreign: str) -> tuple[list[list[str]], str, list[list[str]]]:
    """Batches before another writer changes the response, that writer's event, and batches after it."""
    rid = FIRST_RESPONSE_ID
    asked = [{"role": "assistant", "content": "0 to 10?"}]
    answered = [*asked, {"role": "user", "content": "nine"}]
    before = [[envelope("call.initiated", call_id, 1, direction="incoming", to=SURVEY_NUMBER, **{"from": "+1555"}),
               envelope("call.answered", call_id, 2)],
              [envelope("call.ai_gather.message_history_updated", call_id, 3, message_history=asked)]]
    if foreign == "command_failed":  # as dispatcher._failure_event reports a command Telnyx refused for good
        other = envelope("survey_bot.command_failed", call_id, 4, client_state={"r": rid}, action="gather_using_ai",
                         step="ai", status_code=422, code="90061", detail="refused")
        after = [[envelope("call.ai_gather.message_history_updated", call_id, 5, message_history=answered),
                  envelope("call.gather.ended", call_id, 6, status="valid", digits="9",
                           client_state={"r": rid, "s": "keypad", "f": "nps", "n": 1})],
                 [envelope("survey_bot.command_failed", call_id, 7, client_state={"r": rid},
                           action="gather_using_speak", step="keypad:satisfaction:1", status_code=422,
                           code="90018", detail="call ended"),
                  envelope("call.hangup", call_id, 8, hangup_cause="normal_clearing")]]
    else:  # the hangup, handled by another process's ORM path
        other = envelope("call.hangup", call_id, 4, hangup_cause="user_busy", hangup_source="callee")
        after = [[envelope("call.ai_gather.message_history_updated", call_id, 5, message_history=answered)],
                 [envelope("call.ai_gather.ended", call_id, 6, status="valid", result={"nps": 9},
                           message_history=answered)]]
    return before, other, after


@pytest.mark.parametrize("foreign", ["command_failed", "hangup"])
async def test_a_write_by_another_path_between_batches_is_kept(sqlite_template: Path, tmp_path: Path, ticking: Any,
                                                               foreign: str) -> None:
    before, other, after = foreign_write_script(f"v3:foreign-{next(EVENT_IDS)}", foreign)
    reference_url, cached_url = sqlite_copies(sqlite_template, tmp_path, 2)
    results = []
    cache = ResponseCache()
    for url, with_cache in ((reference_url, None), (cached_url, cache)):
        ticking.reset()
        writer = Writer(url, with_cache)
        try:
            outcomes = [result for group in before for result in await writer.batch(group)]
            if with_cache is not None:
                await writer.assert_cache_holds_what_is_stored()  # the record the next batch would reuse...
            outcomes.append(await writer.alone(other))  # ...until another path changes the response
            for group in after:
                outcomes += await writer.batch(group)
            results.append((outcomes, writer.full_loads, await writer.stored(FIRST_RESPONSE_ID)))
        finally:
            await writer.close()
    (expected, _, _), (actual, full_loads, response) = results

    assert actual == expected
    assert await dump(cached_url) == await dump(reference_url)
    state = response.state
    if foreign == "command_failed":
        assert [f["code"] for f in state.failures] == ["90061", "90018"]  # the other path's, then the batch's
        assert state.ai_status == "failed" and state.answers == {"nps": 9} and state.sources == {"nps": "dtmf"}
        assert state.hangup_cause == "normal_clearing" and state.ended_at is not None
        assert full_loads == [0, 0, 1, 0]  # reloaded once, after the other write; cached again after that
    else:
        assert state.hangup_cause == "user_busy" and state.hangup_source == "callee" and state.ended_at is not None
        assert state.status == "abandoned" and state.current_field is None  # no keypad asked of an ended call
        assert state.answers == {"nps": 9} and len(state.message_history) == 2
        assert full_loads[:3] == [0, 0, 1]  # reloaded after the other write
    assert state.message_history[-1]["content"] == "nine"


async def test_a_rolled_back_batch_leaves_nothing_in_the_cache(sqlite_template: Path, tmp_path: Path,
                                                               frozen: Any) -> None:
    # The frozen clock gives every write the same updated_at, so the identity check cannot tell a record the
    # rolled-back batch left in the cache from the committed one: only stage/commit/discard keep it out.
    bodies = inbound_call(f"v3:rollback-{next(EVENT_IDS)}", "complete", random.Random(3))
    first, doomed, rest = bodies[:2], bodies[2:6], bodies[6:]
    reference_url, cached_url = sqlite_copies(sqlite_template, tmp_path, 2)
    for url in (reference_url, cached_url):
        await prepare(url)
    frozen.reset()
    expected = await one_by_one(reference_url, bodies, FormCatalog(FORMS))

    frozen.reset()
    cache = ResponseCache()
    writer = Writer(cached_url, cache)
    try:
        actual = await writer.batch(first)
        committed = await writer.stored(FIRST_RESPONSE_ID)
        assert cache.current(committed) is not None
        rows = await dump(cached_url)
        await writer.rolled_back_batch(doomed)
        assert await dump(cached_url) == rows  # the batch really left nothing behind
        held = cache.current(await writer.stored(FIRST_RESPONSE_ID))
        assert held is None or comparable(held) == comparable(committed)  # nothing of the rolled-back batch
        actual += await writer.batch(doomed)  # redelivered: processed as if for the first time
        for i in range(0, len(rest), 2):
            actual += await writer.batch(rest[i:i + 2])
    finally:
        await writer.close()
    assert actual == expected
    assert await dump(cached_url) == await dump(reference_url)
