"""Property: any delivery order Telnyx may produce (interleaved calls, duplicates, reordering within what
causality allows, partial results and transcript updates arriving late, even after the hang-up) gives the
same final responses as in-order delivery. Runs the real processing path on a real database."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from survey_bot.forms.load import load_forms
from survey_bot.forms.model import FormCatalog
from survey_bot.intake.write_path import handle_event
from survey_bot.storage.engine import make_engine, make_sessionmaker
from survey_bot.storage.models import Response
from survey_bot.telephony.envelope import encode_client_state, parse_event

FORMS = load_forms(Path(__file__).resolve().parent.parent / "forms")
SURVEY_NUMBER = "+15550100001"


@dataclass
class Planned:
    """One event of a scripted call: its body (without ids) and whether it may float later in delivery."""

    event_type: str
    payload: dict[str, Any]
    at: str
    floating: bool = False


def script(kind: str) -> list[Planned]:
    """The in-order events of one call; `kind` picks a completed call, a keypad call or a hang-up mid-AI."""
    def t(second: int) -> str:
        return f"2026-11-23T12:00:{second:02d}.000000Z"

    history = [{"role": "assistant", "content": "0 to 10?"}, {"role": "user", "content": "nine"},
               {"role": "assistant", "content": "satisfied?"}, {"role": "user", "content": "very"}]
    events = [Planned("call.initiated", {"direction": "incoming", "to": SURVEY_NUMBER, "from": "+15557770000"}, t(0)),
              Planned("call.answered", {}, t(1))]
    events += [
        Planned("call.ai_gather.partial_results", {"partial_results": {"nps": 9}, "message_history": history[:2]},
                t(5), floating=True),
        Planned("call.ai_gather.message_history_updated", {"message_history": history[:3]}, t(6), floating=True),
        Planned("call.ai_gather.partial_results",
                {"partial_results": {"nps": 9, "satisfaction": "very_satisfied"}, "message_history": history},
                t(8), floating=True),
        Planned("call.ai_gather.message_history_updated", {"message_history": history}, t(9), floating=True),
    ]
    if kind == "hangup-mid-ai":
        return [*events, Planned("call.hangup", {"hangup_cause": "normal_clearing", "hangup_source": "caller"}, t(10))]
    result = {"nps": 9, "satisfaction": "very_satisfied"} if kind == "ai-complete" else {"nps": 9, "satisfaction": "?"}
    events.append(Planned("call.ai_gather.ended", {"status": "valid", "result": result, "message_history": history},
                          t(12)))
    if kind == "keypad":
        events.append(Planned("call.gather.ended", {"status": "valid", "digits": "2",
                                                    "client_state": {"s": "keypad", "f": "satisfaction", "n": 1}},
                              t(20)))
    timeout = {"status": "timeout", "digits": "", "client_state": {"s": "keypad", "f": "would_recommend", "n": 1}}
    events.append(Planned("call.gather.ended", timeout, t(30)))
    events.append(Planned("call.speak.ended", {"status": "completed", "client_state": {"s": "closing"}}, t(35)))
    events.append(Planned("call.hangup", {"hangup_cause": "normal_clearing", "hangup_source": "callee"}, t(36)))
    return events


def body(planned: Planned, call_id: str, event_id: str) -> str:
    payload = {k: v for k, v in planned.payload.items() if k != "client_state"}
    payload["call_control_id"] = call_id
    if "client_state" in planned.payload:
        payload["client_state"] = encode_client_state(planned.payload["client_state"])
    return json.dumps({"data": {"record_type": "event", "event_type": planned.event_type, "id": event_id,
                                "occurred_at": planned.at, "payload": payload}})


def deliveries(plans: list[Planned], call_id: str, rng: random.Random) -> list[str]:
    """A delivery order causality allows: floating events may come anywhere after the answer; anything may repeat."""
    ids = [str(uuid.uuid4()) for _ in plans]
    fixed = [i for i, p in enumerate(plans) if not p.floating]
    order = list(fixed)
    answered_at = order.index(1)
    for i in (i for i, p in enumerate(plans) if p.floating):
        order.insert(rng.randint(answered_at + 1, len(order)), i)
    for i in rng.sample(range(len(plans)), k=rng.randint(0, len(plans))):
        order.insert(rng.randint(order.index(i) + 1, len(order)), i)  # a duplicate after the original
    return [body(plans[i], call_id, ids[i]) for i in order]


def interleave(streams: list[list[str]], rng: random.Random) -> list[str]:
    merged: list[str] = []
    queues = [list(s) for s in streams]
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        merged.append(queue.pop(0))
    return merged


async def deliver(url: str, bodies: list[str], catalog: FormCatalog) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        for raw in bodies:
            async with sessions() as session, session.begin():
                await handle_event(session, parse_event(raw), catalog)
    finally:
        await engine.dispose()


async def final_rows(url: str, call_ids: list[str]) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = []
            for call_id in call_ids:
                row = await session.scalar(select(Response).where(Response.call_control_id == call_id))
                assert row is not None, call_id
                rows.append({k: getattr(row, k) for k in (
                    "status", "answers", "sources", "answer_times", "message_history", "keypad_attempts",
                    "keypad_queue", "current_field", "ai_status", "hangup_cause", "hangup_source")})
            return rows
    finally:
        await engine.dispose()


KINDS = ["ai-complete", "keypad", "hangup-mid-ai"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1),
       kinds=st.lists(st.sampled_from(KINDS), min_size=2, max_size=4))
def test_any_delivery_order_gives_the_in_order_responses(database_url: str, seed: int, kinds: list[str]) -> None:
    rng = random.Random(seed)
    catalog = FormCatalog(FORMS)
    plans = [script(kind) for kind in kinds]
    in_order_ids = [f"v3:ordered-{uuid.uuid4()}" for _ in kinds]
    shuffled_ids = [f"v3:shuffled-{uuid.uuid4()}" for _ in kinds]
    in_order = [body(p, call_id, str(uuid.uuid4())) for plan, call_id in zip(plans, in_order_ids, strict=True)
                for p in plan]
    shuffled = interleave([deliveries(plan, call_id, rng) for plan, call_id in
                           zip(plans, shuffled_ids, strict=True)], rng)

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        await deliver(database_url, in_order, catalog)
        await deliver(database_url, shuffled, catalog)
        return await final_rows(database_url, in_order_ids), await final_rows(database_url, shuffled_ids)

    expected, actual = asyncio.run(run())
    assert actual == expected
    assert [r["status"] for r in expected] == [
        {"ai-complete": "completed", "keypad": "completed", "hangup-mid-ai": "abandoned"}[k] for k in kinds]
