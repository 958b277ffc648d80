"""Outbound webhooks end to end: a receiver on 127.0.0.1 verifies every delivery with the reference
`standardwebhooks` library; completed, partial and abandoned responses of simulated calls arrive as the NDJSON
export writes them; a receiver down for a while gets every event once it is back, under the same webhook-id; a
410 disables the endpoint; private addresses are refused without SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE;
response.updated is coalesced; two workers never send one event at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_process import free_port
from sqlalchemy import func, select
from standardwebhooks.webhooks import WebhookVerificationError
from webhook_receiver import Received, Receiver

from survey_bot.jobs.webhooks import WebhookJob
from survey_bot.reports.webhook_body import renderer
from survey_bot.sandbox.scenario_file import load_scenario_file
from survey_bot.sandbox.simulate import play_call
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.serving.embedded import serve_asgi
from survey_bot.storage.webhook_endpoints import add_endpoint as store_endpoint
from survey_bot.storage.webhook_models import WebhookDelivery
from survey_bot.storage.webhook_outbox import UPDATED, enqueue_event
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
SCENARIOS = Path(__file__).resolve().parent / "scenarios" / "webhooks.yaml"
TOKEN = "webhooks-test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FAST = "0.2,0.2,0.3,0.3,0.5,0.5,0.5,0.5,0.5,0.5"  # SURVEY_BOT_WEBHOOKS_RETRY_SCHEDULE: seconds, not hours


def overrides(**more: Any) -> dict[str, Any]:
    return {"forms_dir": FORMS, "admin_token": TOKEN, "default_form": "customer_satisfaction",
            "webhooks_allow_private": True, "webhooks_retry_schedule": FAST, **more}


async def api(stack: Stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.app_url, headers=AUTH, trust_env=False, timeout=10) as client:
        return await client.request(method, path, **kwargs)


async def add_endpoint(stack: Stack, url: str, **body: Any) -> tuple[str, str]:
    created = await api(stack, "POST", "/api/webhooks", json={"url": url, **body})
    assert created.status_code == 201, created.text
    return created.json()["endpoint"]["id"], created.json()["secret"]


async def deliveries(stack: Stack, endpoint: str) -> list[dict[str, Any]]:
    answer = await api(stack, "GET", f"/api/webhooks/{endpoint}/deliveries")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def attempted(stack: Stack, endpoint: str, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    """Wait until the endpoint has `count` deliveries, each attempted at least once; return them."""
    deadline = time.monotonic() + timeout
    while True:
        log = await deliveries(stack, endpoint)
        if len(log) >= count and all(d["attempts"] for d in log):
            return log
        assert time.monotonic() < deadline, log
        await asyncio.sleep(0.05)


async def play_scenarios(stack: Stack) -> dict[str, str]:
    """Play the three scenario calls; return {response id: status}."""
    scenario = load_scenario_file(SCENARIOS, state(stack.app).catalog.forms)
    statuses = {}
    for call in scenario.calls:
        outcome = await play_call(stack, SCENARIOS, scenario.form_id, call, check=True)
        assert outcome.passed and outcome.response_id, outcome
        statuses[outcome.response_id] = outcome.status or ""
    return statuses


async def test_completed_partial_and_abandoned_responses_reach_a_verifying_receiver(database_url: str) -> None:
    receiver = Receiver()
    async with serve_asgi(receiver.app()) as receiver_url, running_stack(database_url, overrides()) as stack:
        _endpoint, secret = await add_endpoint(stack, f"{receiver_url}/hook")
        statuses = await play_scenarios(stack)
        assert sorted(statuses.values()) == ["abandoned", "completed", "partial"]
        events = await receiver.wait_for(secret, 3)
        export = await api(stack, "GET", "/api/forms/customer_satisfaction/export.ndjson")
    exported = {row["response_id"]: row for row in map(json.loads, export.text.splitlines())}
    assert {e["data"]["response_id"]: e["type"] for e in events.values()} == {
        rid: f"response.{status}" for rid, status in statuses.items()}
    for event in events.values():
        assert event["data"] == exported[event["data"]["response_id"]]  # the response as the export writes it
    assert all(r.headers["webhook-id"].startswith("msg_") for r in receiver.received)


async def test_a_receiver_down_for_a_while_gets_every_event_once_back(database_url: str) -> None:
    port = free_port()
    receiver = Receiver(answer=503)
    async with running_stack(database_url, overrides()) as stack:
        endpoint, secret = await add_endpoint(stack, f"http://127.0.0.1:{port}/hook")
        statuses = await play_scenarios(stack)  # nothing listens: every attempt is refused
        await attempted(stack, endpoint, 3)
        async with serve_asgi(receiver.app(), port=port):  # back, but failing (503) for a while
            deadline = time.monotonic() + 15
            while min(Counter(r.webhook_id for r in receiver.received).values(), default=0) < 2 \
                    or len({r.webhook_id for r in receiver.received}) < 3:
                assert time.monotonic() < deadline, receiver.received
                await asyncio.sleep(0.05)
            receiver.answer = 204
            events = await receiver.wait_for(secret, 3)
        log = await deliveries(stack, endpoint)
    assert {e["data"]["response_id"] for e in events.values()} == set(statuses)
    assert {d["id"] for d in log} == set(events)  # each event kept its webhook-id across every retry
    for delivery in log:
        assert delivery["status"] == "delivered"
        codes = [a["status_code"] for a in delivery["attempts"]]
        assert codes[0] is None and "ConnectError" in delivery["attempts"][0]["error"]  # refused: no answer
        assert 503 in codes and codes[-1] == 204, codes
        assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])


async def test_a_410_disables_the_endpoint_and_redeliver_enables_it(database_url: str) -> None:
    receiver = Receiver(answer=410)
    async with serve_asgi(receiver.app()) as receiver_url, running_stack(database_url, overrides()) as stack:
        endpoint, secret = await add_endpoint(stack, f"{receiver_url}/hook", events=["contact.disposed"])
        disposed = {"contact_id": 7, "campaign_id": "c1", "phone": "+15551230007", "disposition": "refusal",
                    "disposition_code": "2.11", "response_id": None}
        async with state(stack.app).sessions() as session, session.begin():
            (first,) = await enqueue_event(session, "contact.disposed", payload=disposed)
        deadline = time.monotonic() + 10
        while not (listed := (await api(stack, "GET", "/api/webhooks")).json()["items"])[0]["disabled_at"]:
            assert time.monotonic() < deadline, listed
            await asyncio.sleep(0.05)
        async with state(stack.app).sessions() as session, session.begin():
            assert await enqueue_event(session, "contact.disposed", payload=disposed) == []  # not queued any more
        log = await deliveries(stack, endpoint)
        assert [(d["id"], d["status"], [a["status_code"] for a in d["attempts"]]) for d in log] == [
            (first, "failed", [410])]
        receiver.answer = 200
        again = await api(stack, "POST", f"/api/webhooks/deliveries/{first}/redeliver")
        assert again.status_code == 202, again.text
        events = await receiver.wait_for(secret, 1)
    assert events[first] == {"type": "contact.disposed", "timestamp": events[first]["timestamp"], "data": disposed}
    assert len(receiver.received) == 2 and {r.webhook_id for r in receiver.received} == {first}


async def test_private_addresses_are_refused_without_the_setting(database_url: str) -> None:
    receiver = Receiver()
    async with serve_asgi(receiver.app()) as receiver_url, \
            running_stack(database_url, overrides(webhooks_allow_private=False)) as stack:
        for url in (f"{receiver_url}/hook", f"http://localhost:{receiver_url.rsplit(':', 1)[1]}/hook",
                    "http://10.1.2.3/hook", "http://[::1]/hook", "http://169.254.169.254/latest"):
            refused = await api(stack, "POST", "/api/webhooks", json={"url": url})
            assert refused.status_code == 400, (url, refused.text)
            assert "SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE" in refused.json()["detail"], refused.text
        for url, why in (("ftp://example.com/x", "https://"), ("https://user:pw@example.com/", "credentials")):
            refused = await api(stack, "POST", "/api/webhooks", json={"url": url})
            assert refused.status_code == 400 and why in refused.json()["detail"], refused.text
        assert (await api(stack, "GET", "/api/webhooks")).json()["items"] == []
        # Checked again at each attempt, on the addresses resolved then: an endpoint stored while private
        # addresses were allowed is not sent to by a server that does not allow them.
        async with state(stack.app).sessions() as session, session.begin():
            stored = await store_endpoint(session, f"{receiver_url}/hook", ["contact.disposed"], False, "test",
                                          utc_now())
            await enqueue_event(session, "contact.disposed", payload={"contact_id": 1})
        log = await attempted(stack, stored.id, 1)
    assert receiver.received == []
    (attempt, *_) = log[0]["attempts"]
    assert attempt["status_code"] is None and "SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE" in attempt["error"], attempt


async def test_response_updated_is_coalesced_and_two_workers_send_each_event_once(database_url: str) -> None:
    receiver = Receiver(delay=0.3)
    async with serve_asgi(receiver.app()) as receiver_url, running_stack(database_url, overrides()) as stack:
        app_state = state(stack.app)
        assert app_state.webhooks is not None
        await app_state.webhooks.stop()  # this test's own workers deliver
        _endpoint, secret = await add_endpoint(stack, f"{receiver_url}/hook",
                                               events=["response.completed", "response.partial",
                                                       "response.abandoned", UPDATED])
        statuses = await play_scenarios(stack)  # every answer heard changes a response
        async with app_state.sessions() as session:
            pending = Counter((await session.execute(
                select(WebhookDelivery.response_id).where(WebhookDelivery.event_type == UPDATED))).scalars())
            total = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        assert pending == dict.fromkeys(statuses, 1)  # one response.updated waiting per response, not one per change
        assert total == 6
        workers = [WebhookJob(app_state.sessions, renderer(app_state.engine), (60.0,), allow_private=True)
                   for _ in range(2)]
        try:
            sent = await asyncio.gather(*(w.run_once() for w in workers))
        finally:
            for worker in workers:
                await worker.stop()
        events = receiver.delivered(secret)  # (raises if one webhook-id was acknowledged twice)
        export = await api(stack, "GET", "/api/forms/customer_satisfaction/export.ndjson")
    assert sum(sent) == 6 and len(receiver.received) == 6 and len(events) == 6, (sent, len(receiver.received))
    exported = {row["response_id"]: row for row in map(json.loads, export.text.splitlines())}
    updates = [e["data"] for e in events.values() if e["type"] == UPDATED]
    assert sorted(u["response_id"] for u in updates) == sorted(statuses)
    assert all(update == exported[update["response_id"]] for update in updates)  # the latest answers


async def test_a_rotated_secret_overlaps_the_old_one_for_as_long_as_asked(database_url: str) -> None:
    receiver = Receiver()
    async with serve_asgi(receiver.app()) as receiver_url, running_stack(database_url, overrides()) as stack:
        endpoint, old = await add_endpoint(stack, f"{receiver_url}/hook", events=["contact.disposed"])

        async def disposed(n: int) -> Received:
            """Queue the n-th event and wait for the receiver to take it."""
            async with state(stack.app).sessions() as session, session.begin():
                await enqueue_event(session, "contact.disposed", payload={"contact_id": f"c{n}"})
            deadline = time.monotonic() + 15
            while len(receiver.received) <= n:
                assert time.monotonic() < deadline, "not delivered"
                await asyncio.sleep(0.05)
            return receiver.received[n]

        before = await disposed(0)
        assert len(before.headers["webhook-signature"].split(" ")) == 1
        for wrong, said in (("a week", "overlap: String should match pattern"), ("800h", "overlap: '800h' is longer")):
            bad = await api(stack, "POST", f"/api/webhooks/{endpoint}/rotate-secret", params={"overlap": wrong})
            assert bad.status_code == 400 and bad.json()["detail"].startswith(said), bad.text
        rotated = await api(stack, "POST", f"/api/webhooks/{endpoint}/rotate-secret", params={"overlap": "1h"})
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        until = datetime.fromisoformat(rotated.json()["endpoint"]["previous_secret_until"])
        assert timedelta(minutes=59) < until - utc_now() <= timedelta(hours=1)
        during = await disposed(1)
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert during.verified(new) == during.verified(old)  # a receiver on either secret accepts it
        again = await api(stack, "POST", f"/api/webhooks/{endpoint}/rotate-secret", params={"overlap": "0"})
        newest = again.json()["secret"]
        assert again.status_code == 200 and again.json()["endpoint"]["previous_secret_until"] is None
        after = await disposed(2)
    assert after.verified(newest)["data"] == {"contact_id": "c2"}
    for retired in (old, rotated.json()["secret"]):
        with pytest.raises(WebhookVerificationError):
            after.verified(retired)
