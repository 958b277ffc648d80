"""Scale out on PostgreSQL: several server processes on one database behave as one.

Two `survey-bot serve` deployments share a PostgreSQL database: A runs `--workers 2` (two processes behind
one port), B is a single process. A small relay in the test process stands where a load balancer would:
- for some calls it delivers every webhook to A and B at the same moment (the same signed event twice,
  concurrently): exactly one process must process it, the other must see a duplicate;
- for the others it sends the events of each call alternately to A and B: each must be processed in
  order, as if one process had seen them all.
Every process runs a dispatcher on the shared outbox, so commands are claimed across processes: Telnyx
must act on each command_id once, and each response must equal the one an undisturbed single process makes.
SQLite allows one writing process, so this runs on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest
from quart import Quart, Response, request
from server_process import (
    CALL_KINDS,
    VARIANTS,
    CallDriver,
    PlacedCall,
    ServerProcess,
    read_stored,
    reference_outcomes,
    server_env,
    snapshot,
    wait_outbox_empty,
)

from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import FakeTelnyx, Scenario

FORWARDED = ("content-type", "telnyx-signature-ed25519", "telnyx-timestamp", "user-agent")


class Relay:
    """A load balancer stand-in: fans a call's webhooks out to every backend, or alternates between them."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.fan_out: set[str] = set()  # call ids whose webhooks go to every backend at once
        self.results: list[tuple[str, str, str, int, str]] = []  # (call, event id, backend, status, result)
        self._turns: dict[str, int] = defaultdict(int)
        self._client = httpx.AsyncClient(trust_env=False, timeout=10)
        self.app = Quart(__name__)
        self.app.add_url_rule("/webhooks/telnyx", "relay", self._relay, methods=["POST"])

    async def _relay(self) -> Response:
        body = await request.get_data(as_text=False)
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
        data = json.loads(body)["data"]
        call_id = data["payload"]["call_control_id"]
        if call_id in self.fan_out:
            targets = self.backends
        else:
            targets = [self.backends[self._turns[call_id] % len(self.backends)]]
            self._turns[call_id] += 1
        # Shielded: when the fake gives up waiting (2 s, a loaded machine) and redelivers, this delivery's answers
        # are still recorded (the redelivery then finds the event a duplicate everywhere).
        fanned = asyncio.ensure_future(self._fan(call_id, data["id"], targets, body, headers))
        return Response("", 200 if await asyncio.shield(fanned) else 502)

    async def _fan(self, call_id: str, event_id: str, targets: list[str], body: bytes,
                   headers: dict[str, str]) -> bool:
        answers = await asyncio.gather(*(self._post(t, body, headers) for t in targets), return_exceptions=True)
        ok = True
        for target, answer in zip(targets, answers, strict=True):
            if isinstance(answer, BaseException):
                self.results.append((call_id, event_id, target, 0, type(answer).__name__))
                ok = False
                continue
            result = answer.json().get("result", "") if answer.status_code == 200 else ""
            self.results.append((call_id, event_id, target, answer.status_code, result))
            ok = ok and answer.status_code == 200
        return ok

    async def _post(self, backend: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self._client.post(f"{backend}/webhooks/telnyx", content=body, headers=headers)

    async def aclose(self) -> None:
        await self._client.aclose()


@pytest.mark.slow
async def test_processes_sharing_postgresql_process_each_event_once_in_order(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("scale-out needs PostgreSQL: SQLite allows one writing process")
    began = time.monotonic()
    expected = await reference_outcomes(database_url)
    fake = FakeTelnyx()
    async with serve_asgi(fake.app) as telnyx_url:
        env = server_env(database_url=database_url, telnyx_url=telnyx_url, public_key=fake.signer.public_key_b64,
                         connection_id=fake.connection_id)
        a = ServerProcess(env, tmp_path / "a.log", workers=2)
        b = ServerProcess(env, tmp_path / "b.log")
        relay = Relay([a.url, b.url])
        try:
            await asyncio.gather(a.start(timeout=60), b.start(timeout=60))
            async with serve_asgi(relay.app) as relay_url:
                fake.webhook_url = f"{relay_url}/webhooks/telnyx"
                inbound = [v for v in VARIANTS if v[1] == "incoming"]
                fanned = []
                for variant in inbound * 2:
                    call = PlacedCall(variant, fake.start_call(_scenario(variant)))
                    relay.fan_out.add(call.call_control_id)  # before its first webhook leaves the fake
                    fanned.append(call)
                # Outbound calls are placed through A and B in turn; their webhooks alternate too.
                drivers = [CallDriver(fake, a.url), CallDriver(fake, b.url)]
                alternated = await asyncio.gather(*(drivers[i % 2].play(v, timeout=40)
                                                    for i, v in enumerate(VARIANTS)))
                for call in fanned:
                    await fake.wait_call_done(call.call_control_id, timeout=40)
                await wait_outbox_empty(database_url, timeout=30)
                await fake.wait_idle(10)
                stored = await read_stored(database_url)
        finally:
            await asyncio.gather(a.aclose(), b.aclose())
            await relay.aclose()

    # The same event delivered to several processes at once was processed by exactly one of them.
    by_event: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for call_id, event_id, target, status, result in relay.results:
        by_event[event_id].append((target, status, result))
    fanned_ids = {c.call_control_id for c in fanned}
    fanned_events = {e for c, e, *_rest in relay.results if c in fanned_ids}
    for event_id in fanned_events:
        results = by_event[event_id]
        assert {t for t, _s, _r in results} == {a.url, b.url}, results
        assert sum(1 for _t, status, result in results if status == 200 and result != "duplicate") == 1, results
    # Events of one call sent alternately went to both deployments, and each call ended as in one process.
    for call in alternated:
        targets = [t for c, _e, t, _s, _r in relay.results if c == call.call_control_id]
        assert len(set(targets)) == 2 or len(targets) < 2, targets
    for call in [*fanned, *alternated]:
        assert snapshot(stored.response_of(call)) == expected[call.variant].response, call
        assert [r.action for r in fake.accepted(call.call_control_id)] == expected[call.variant].actions, call
    # No command issued twice, though every process's dispatcher claimed from the same outbox.
    acted = Counter(r.command_id for r in fake.accepted())
    assert max(acted.values()) == 1, acted.most_common(3)
    assert {c.status for c in stored.commands} <= {"sent"}, Counter(c.status for c in stored.commands)
    assert all(status == 200 for *_rest, status, _result in relay.results), [r for r in relay.results if r[3] != 200]

    outcome_counts = Counter(r for *_rest, r in relay.results)
    print(f"\n[scale-out/{backend}] A (--workers 2) + B on one database; {len(fanned)} calls fanned out "
          f"({len(fanned_events)} events each sent to both at once), {len(alternated)} calls alternating; "
          f"results {dict(outcome_counts)}; {len(fake.requests)} command requests, "
          f"{sum(1 for r in fake.requests if r.duplicate)} duplicates; starts took "
          f"{a.start_seconds[0]:.1f}/{b.start_seconds[0]:.1f} s; test took {time.monotonic() - began:.1f} s")


def _scenario(variant: tuple[str, str]) -> Scenario:
    return next(f for name, f, _form in CALL_KINDS if name == variant[0])()
