"""What operators see of a real `survey-bot serve`: a scrape of any worker adds up every process's counts, and
with SURVEY_BOT_LOG_FORMAT=json every line the server and its dispatcher child write is one JSON object, with
the ids of the call it is about and no secret.

`--workers 2` runs with the inline dispatcher: a dispatcher child takes seconds to start on a busy machine and
the first commands wait for it, which would double the test's time; the dispatcher child's counts reaching the
scrape are shown by the single-worker test, where only the child sends.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_text import Samples, parse, total, value
from server_process import ADMIN_TOKEN, CallDriver, read_stored, running_server, server_env, wait_outbox_empty

from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import Delivery, FakeTelnyx
from survey_bot.simulator.examples import ai_fills_everything, ai_invalid_keypad_completes

SCRAPE_TOKEN = "served-scrape-token-0001"
API_KEY = "KEY_fault_tests"  # server_env's TELNYX_API_KEY
STRAY_ROUNDS = 30  # at most this many rounds of ...
STRAYS = 16  # ... signed webhooks for calls nobody knows, at once, each on a connection of its own


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:  # a new connection: any worker may answer
        answer = await client.get(f"{url}/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


async def stray_webhook(fake: FakeTelnyx, url: str, n: int) -> None:
    body = json.dumps({"data": {"record_type": "event", "event_type": "call.hangup", "id": f"stray-{n}",
                                "occurred_at": "2026-01-01T00:00:00.000000Z",
                                "payload": {"call_control_id": f"v3:stray-{n}"}}}).encode()
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        answer = await client.post(f"{url}/webhooks/telnyx", content=body, headers=fake.signer.headers(body))
    assert answer.status_code == 200 and answer.json()["result"] == "ignored", answer.text


def counts_by_process(directory: Path, name: str) -> dict[int, float]:
    """The total of counter `name` each process wrote to its own file."""
    found: dict[int, float] = defaultdict(float)
    for file in directory.glob("counter_*.db"):
        pid = int(file.stem.split("_")[1])
        for family in MultiProcessCollector.merge([str(file)]):
            found[pid] += sum(s.value for s in family.samples if s.name == name)
    return {pid: n for pid, n in found.items() if n}


@pytest.mark.slow
async def test_a_scrape_of_either_worker_adds_up_every_process(database_url: str, backend: str,
                                                                tmp_path: Path) -> None:
    if backend != "postgresql":
        pytest.skip("--workers 2 needs PostgreSQL: SQLite allows one writing process")
    directory = tmp_path / "prometheus"  # the operator's own directory, so the test can read each process's file
    fake = FakeTelnyx()
    async with serve_asgi(fake.app) as telnyx_url:
        env = server_env(database_url=database_url, telnyx_url=telnyx_url, public_key=fake.signer.public_key_b64,
                         connection_id=fake.connection_id,
                         extra={"SURVEY_BOT_METRICS_TOKEN": SCRAPE_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(directory),
                                "SURVEY_BOT_DISPATCHER": "inline"})
        async with running_server(env, tmp_path / "server.log", workers=2) as server:
            fake.webhook_url = f"{server.url}/webhooks/telnyx"
            driver = CallDriver(fake, server.url)
            calls = [replace(ai_fills_everything(), delivery=Delivery(duplicate_every=True)),
                     ai_invalid_keypad_completes()]
            ids = [fake.start_call(scenario) for scenario in calls]
            await asyncio.gather(*(fake.wait_call_done(i, timeout=20) for i in ids),
                                 driver.play(("ai_fills_everything", "outgoing"), timeout=20))
            # The kernel hands each new connection to whichever worker accepts first; strays come in rounds
            # until both workers have taken some (usually the first round).
            strays = 0
            while len(counts_by_process(directory, "survey_bot_webhooks_total")) < 2 and strays < STRAYS * STRAY_ROUNDS:
                await asyncio.gather(*(stray_webhook(fake, server.url, strays + n) for n in range(STRAYS)))
                strays += STRAYS
            await wait_outbox_empty(database_url, timeout=20)
            await fake.wait_idle(10)
            scrapes = [await scrape(server.url) for _ in range(6)]
        stored = await read_stored(database_url)

    delivered = sum(1 for d in fake.deliveries if d.delivered) + strays
    sent = sum(1 for c in stored.commands if c.status == "sent")
    for samples in scrapes:  # whichever worker answered, the same totals
        assert total(samples, "survey_bot_webhooks_total") == delivered
        assert total(samples, "survey_bot_webhooks_total", result="ignored") >= strays
        assert total(samples, "survey_bot_webhooks_total", result="duplicate") >= 1
        assert value(samples, "survey_bot_webhook_intake_seconds_count") == delivered
        assert total(samples, "survey_bot_commands_total", status="sent") == sent
        assert value(samples, "survey_bot_commands_total", action="dial", status="sent") == 1
        assert value(samples, "survey_bot_responses", form_id="customer_satisfaction", status="completed") == 3
        assert value(samples, "survey_bot_calls_in_progress") == 0
        assert value(samples, "survey_bot_outbox_lag_seconds") == 0
    # ... made of both workers' counts: each took some of the webhooks (and sent some of the commands)
    webhooks = counts_by_process(directory, "survey_bot_webhooks_total")
    commands = counts_by_process(directory, "survey_bot_commands_total")
    assert len(webhooks) == 2 and sum(webhooks.values()) == delivered, webhooks
    assert commands.keys() <= webhooks.keys() and sum(commands.values()) == sent, commands


@pytest.mark.slow
async def test_json_logs_of_a_served_call(sqlite_url: str, tmp_path: Path) -> None:
    fake = FakeTelnyx()
    log_path, directory = tmp_path / "server.log", tmp_path / "prometheus"
    async with serve_asgi(fake.app) as telnyx_url:
        env = server_env(database_url=sqlite_url, telnyx_url=telnyx_url, public_key=fake.signer.public_key_b64,
                         connection_id=fake.connection_id,
                         extra={"SURVEY_BOT_LOG_FORMAT": "json", "SURVEY_BOT_LOG_LEVEL": "DEBUG",
                                "SURVEY_BOT_METRICS_TOKEN": SCRAPE_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(directory)})
        async with running_server(env, log_path) as server:
            fake.webhook_url = f"{server.url}/webhooks/telnyx"
            call_id = fake.start_call(ai_fills_everything())
            await fake.wait_call_done(call_id, timeout=20)
            await wait_outbox_empty(sqlite_url, timeout=20)
            samples = await scrape(server.url)  # one worker: the dispatcher child's counts reach it too
            await server.terminate()
    assert value(samples, "survey_bot_commands_total", action="answer", status="sent") == 1
    response_id = (await read_stored(sqlite_url)).responses[0].id

    lines = [line for line in log_path.read_text().splitlines() if not line.startswith("--- start")]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message", "pid"} <= entry.keys() for entry in entries)
    webhook_lines = [e for e in entries if e.get("event_id") and e.get("call_control_id") == call_id]
    assert {e["message"].split()[1] for e in webhook_lines} >= {"call.initiated", "call.answered", "call.hangup"}
    assert all(e["response_id"] == response_id for e in webhook_lines)  # the first one too, which made it
    sends = [e for e in entries if e.get("command_id") and e.get("process") == "dispatcher"]
    assert sends and all(e["response_id"] == response_id and e["call_control_id"] == call_id for e in sends)
    # the commands were counted by the dispatcher child, the webhooks by the web process, one scrape showed both
    assert set(counts_by_process(directory, "survey_bot_commands_total")) == {e["pid"] for e in sends}
    assert not {e["pid"] for e in sends} & set(counts_by_process(directory, "survey_bot_webhooks_total"))
    assert any(e["logger"].startswith("uvicorn") for e in entries)  # the server's own lines are JSON too
    text = log_path.read_text()
    for secret in (ADMIN_TOKEN, API_KEY, SCRAPE_TOKEN):
        assert secret not in text
