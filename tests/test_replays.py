"""Replays: one signed webhook delivered 1,000 times at once changes the state once and issues one command;
the same event delivered again long after Telnyx has forgotten the command_id still issues nothing.

The call is real to the fake Telnyx: its `call.initiated` is captured on its way out (the fake rings a
capture endpoint), then replayed by a client against the in-process app. The rest of the conversation
flows normally, and must end exactly like an undisturbed call.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest
from server_process import FORMS, capture_app, read_stored, snapshot
from sqlalchemy import func, select

from survey_bot.sandbox.stack import running_stack
from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import FakeTelnyx, examples
from survey_bot.storage.models import Command, Response, WebhookEvent
from survey_bot.web.state import state

REPLAYS = 1000
CONNECTIONS = 64
WINDOW_S = 0.2  # the fake's command_id memory, standing in for Telnyx's 60 s


@pytest.mark.slow
async def test_one_delivery_replayed_concurrently_and_much_later_acts_once(database_url: str, backend: str) -> None:
    began = time.monotonic()
    fake = FakeTelnyx(dedupe_window_s=WINDOW_S)
    captured: list[bytes] = []
    async with running_stack(database_url, {"forms_dir": FORMS}, fake=fake) as stack, \
            serve_asgi(capture_app(captured)) as capture_url:
        app_webhooks = f"{stack.app_url}/webhooks/telnyx"
        # An undisturbed call first: the outcome the replayed one must match.
        reference_id = fake.start_call(examples.ai_fills_everything())
        await fake.wait_call_done(reference_id, timeout=20)
        await stack.settle()
        reference = await stack.response_for_call(reference_id)

        fake.webhook_url = f"{capture_url}/webhooks/telnyx"
        call_id = fake.start_call(examples.ai_fills_everything())
        await fake.wait_idle(10)
        fake.webhook_url = app_webhooks
        [body] = captured
        event_id = json.loads(body)["data"]["id"]
        headers = fake.signer.headers(body)  # one signed delivery, sent 1,000 times

        # 64 connections, each its own client: one shared pool slows down with the number of waiting requests.
        answers: list[httpx.Response] = []
        left = iter(range(REPLAYS))

        async def connection() -> None:
            async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
                for _ in left:
                    answers.append(await client.post(app_webhooks, content=body, headers=headers))

        flood_began = time.monotonic()
        await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
        flood_s = time.monotonic() - flood_began
        await fake.wait_call_done(call_id, timeout=30)
        await stack.settle()
        replayed = await stack.response_for_call(call_id)
        async with state(stack.app).sessions() as session:
            responses = await session.scalar(select(func.count()).select_from(Response)
                                             .where(Response.call_control_id == call_id))
            from_event = (await session.scalars(select(Command).where(Command.event_id == event_id))).all()
            recorded = await session.scalar(select(func.count()).select_from(WebhookEvent)
                                            .where(WebhookEvent.id == event_id))

        # Much later (past the fake's command_id memory): every event of the call again, re-signed now.
        await asyncio.sleep(WINDOW_S * 1.5)
        requests_before = len(fake.requests)
        later_results = []
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            for event in fake.events_emitted(call_id):
                event["meta"]["attempt"] = 9
                raw = json.dumps(event).encode()
                answer = await client.post(app_webhooks, content=raw, headers=fake.signer.headers(raw))
                later_results.append((answer.status_code, answer.json()["result"]))
        await asyncio.sleep(1.5)  # longer than the dispatcher's poll: anything queued would have gone out
        after = await stack.response_for_call(call_id)
        stored = await read_stored(database_url)

    results = Counter((a.status_code, a.json().get("result")) for a in answers)
    assert results == {(200, "processed"): 1, (200, "duplicate"): REPLAYS - 1}, results
    assert recorded == 1 and responses == 1
    assert [(c.action, c.status) for c in from_event] == [("answer", "sent")]
    assert [r.action for r in fake.accepted(call_id)] == ["answer", "gather_using_ai", "hangup"]
    assert Counter(r.command_id for r in fake.requests if r.call_control_id == call_id).most_common(1)[0][1] == 1
    assert reference is not None and replayed is not None
    assert snapshot(replayed) == snapshot(reference)

    assert later_results and all(r == (200, "duplicate") for r in later_results), later_results
    assert len(fake.requests) == requests_before, fake.requests[requests_before:]
    assert after is not None and snapshot(after) == snapshot(replayed) and after.updated_at == replayed.updated_at
    assert not [c for c in stored.commands if c.status in ("pending", "sending")]

    print(f"\n[replays/{backend}] {REPLAYS} concurrent copies over {CONNECTIONS} connections in {flood_s:.1f} s: "
          f"{dict(results)}; {len(later_results)} events redelivered {WINDOW_S * 1.5:.1f} s later (past the "
          f"fake's {WINDOW_S} s command_id window): all duplicates, 0 new commands; "
          f"test took {time.monotonic() - began:.1f} s")
