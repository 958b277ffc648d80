"""SIGTERM under load: in-flight webhooks finish and are durable, the listener closes cleanly, and commands
that could not be sent stay in the outbox and go out after a restart.

Load is two kinds of traffic at once against `survey-bot serve` in a subprocess:
- a client streaming signed `call.initiated` webhooks of 60 new calls, one fresh connection each, steadily
  and in a burst just as the SIGTERM arrives (the bodies are the fake Telnyx's own, captured before the
  server starts, so the calls are real to the fake);
- six scripted calls in mid-conversation, delivered by the fake Telnyx (which redelivers what got no 2xx).
Telnyx goes down just before the SIGTERM, so the commands those webhooks create cannot be sent before
the process exits. Then Telnyx comes back, the server restarts, the client redelivers what got no 2xx
(as Telnyx would) and every call must end exactly as an undisturbed one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from server_process import (
    CALL_KINDS,
    VARIANTS,
    CallDriver,
    PlacedCall,
    capture_app,
    read_stored,
    reference_outcomes,
    running_server,
    server_env,
    snapshot,
    wait_outbox_empty,
)

from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import Delivery, FakeTelnyx, RetryPolicy, Scenario

STREAMED = 60
SENDERS = 6
PACE_S = 0.25  # each sender's pause between webhooks: the stream lasts about 2.5 s
BURST = 12  # webhooks sent all at once just as the SIGTERM arrives
SPAN_RESTART = RetryPolicy(max_attempts=150, first_backoff_s=0.05, max_backoff_s=0.4, ack_timeout_s=2.0)
INBOUND = [v for v in VARIANTS if v[1] == "incoming"]


@pytest.mark.slow
async def test_sigterm_under_load_finishes_or_durably_leaves_work(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    began = time.monotonic()
    expected = await reference_outcomes(database_url, INBOUND)
    fake = FakeTelnyx(retry_policy=SPAN_RESTART)
    captured: list[bytes] = []
    async with serve_asgi(fake.app) as telnyx_url, serve_asgi(capture_app(captured)) as capture_url:
        # The streamed calls ring first, into the capture app; the client will deliver them later.
        fake.webhook_url = f"{capture_url}/webhooks/telnyx"
        driver = CallDriver(fake, capture_url)
        streamed = [await driver.place(INBOUND[i % len(INBOUND)]) for i in range(STREAMED)]
        await fake.wait_idle(10)
        assert len(captured) == STREAMED
        bodies = {json.loads(b)["data"]["payload"]["call_control_id"]: b for b in captured}

        env = server_env(database_url=database_url, telnyx_url=telnyx_url, public_key=fake.signer.public_key_b64,
                         connection_id=fake.connection_id)
        async with running_server(env, tmp_path / "server.log") as server:
            webhook_url = f"{server.url}/webhooks/telnyx"
            fake.webhook_url = webhook_url
            # Webhooks 0.15 s apart keep these calls mid-conversation across the SIGTERM.
            scripted = [PlacedCall(v, fake.start_call(_slowed(v))) for v in (INBOUND * 2)[:6]]

            results: dict[str, tuple[float, int | str]] = {}  # call id -> (when, status or exception name)
            ids = list(bodies)
            burst, queue = ids[:BURST], ids[BURST:]
            # One fresh connection per webhook, as a load balancer in front would see Telnyx's.
            limits = httpx.Limits(max_connections=SENDERS + BURST, max_keepalive_connections=0)
            async with httpx.AsyncClient(trust_env=False, limits=limits, timeout=15) as client:

                async def deliver(call_id: str) -> None:
                    body = bodies[call_id]
                    try:
                        answer = await client.post(webhook_url, content=body, headers=fake.signer.headers(body))
                        results[call_id] = (time.monotonic(), answer.status_code)
                    except httpx.HTTPError as exc:
                        results[call_id] = (time.monotonic(), type(exc).__name__)

                async def sender() -> None:
                    while queue:
                        await deliver(queue.pop())
                        await asyncio.sleep(PACE_S)

                await asyncio.sleep(0.4)  # the scripted calls are into their AI conversations by the SIGTERM
                senders = [asyncio.create_task(sender()) for _ in range(SENDERS)]
                await asyncio.sleep(0.5)
                fake.down = True  # what the webhooks from now on make due cannot be sent before the exit
                await asyncio.sleep(0.4)
                bursting = [asyncio.create_task(deliver(call_id)) for call_id in burst]
                await asyncio.sleep(0.005)  # the burst is connecting and sending as the signal arrives
                sigterm_at = time.monotonic()
                exit_code = await server.terminate(timeout=30)
                exited_at, exited_wall = time.monotonic(), time.time()
                await asyncio.gather(*senders, *bursting)

            left = await read_stored(database_url)
            fake.down = False
            await server.restart()
            # The client redelivers what got no 2xx, as Telnyx does.
            async with httpx.AsyncClient(trust_env=False, timeout=15) as client:
                for call_id, (_at, outcome) in results.items():
                    if outcome != 200:
                        body = bodies[call_id]
                        answer = await client.post(webhook_url, content=body, headers=fake.signer.headers(body))
                        assert answer.status_code == 200
            for call in [*streamed, *scripted]:
                await fake.wait_call_done(call.call_control_id, timeout=60)
            await wait_outbox_empty(database_url, timeout=45)
            await fake.wait_idle(10)
            final = await read_stored(database_url)
            log = server.log_tail(200)

    # The process exited on its own, promptly, after a graceful shutdown (uvicorn re-raises the SIGTERM).
    assert exit_code in (0, -15), log
    assert exited_at - sigterm_at < 15
    assert "Application shutdown complete" in log
    # No request was reset: each got a 2xx, or was refused once the listener had closed. (This holds for fresh
    # connections. The fake Telnyx reuses keep-alive connections, and a request sent on an idle one just as
    # the server closes it can still be reset; that race is HTTP/1.1's, and the fake redelivers it.)
    outcomes = Counter(outcome for _at, outcome in results.values())
    assert set(outcomes) <= {200, "ConnectError"}, outcomes
    assert all(at >= sigterm_at for at, outcome in results.values() if outcome == "ConnectError")
    assert outcomes[200] > 0 and outcomes["ConnectError"] > 0, outcomes
    # Each 2xx was durable before it was sent: its event and the response it started were committed.
    acked = [call_id for call_id, (_at, outcome) in results.items() if outcome == 200]
    acked_events = {json.loads(bodies[c])["data"]["id"] for c in acked}
    assert acked_events <= left.event_ids
    assert {c for c in acked} <= {r.call_control_id for r in left.responses}
    # Work the shutdown could not finish stayed in the outbox, unsent, and went out after the restart.
    unsent = [c for c in left.commands if c.status in ("pending", "sending")]
    assert unsent, "Telnyx was down at the SIGTERM, so something should have been left to send"
    first_accept = {r.command_id: r.received_at for r in fake.accepted()}
    assert all(first_accept.get(c.command_id, 0) > exited_wall for c in unsent), [
        (c.action, c.status) for c in unsent if first_accept.get(c.command_id, 0) <= exited_wall]
    # And every call ended as an undisturbed one, each command acted on once.
    for call in [*streamed, *scripted]:
        response = final.response_of(call)
        assert snapshot(response) == expected[call.variant].response, call
        assert [r.action for r in fake.accepted(call.call_control_id)] == expected[call.variant].actions, call
    acted = Counter(r.command_id for r in fake.accepted())
    assert max(acted.values()) == 1, acted.most_common(3)

    drained = sum(1 for at, outcome in results.values() if outcome == 200 and at > sigterm_at)
    print(f"\n[shutdown/{backend}] {STREAMED} streamed + {len(scripted)} scripted calls; SIGTERM -> exit "
          f"{exit_code} in {exited_at - sigterm_at:.2f} s; stream: {dict(outcomes)} ({drained} 2xx answered after "
          f"the SIGTERM); left in the outbox: "
          f"{Counter(c.status for c in unsent)}; fake deliveries without 2xx: "
          f"{Counter((a.error or '').split(':')[0] for a in fake.deliveries if not a.delivered)}; "
          f"test took {time.monotonic() - began:.1f} s")


def _slowed(variant: tuple[str, str]) -> Scenario:
    factory = next(f for name, f, _form in CALL_KINDS if name == variant[0])
    return replace(factory(), delivery=Delivery(delay_s=0.15))
