"""kill -9 of `survey-bot serve` between the commit of finished responses and their outbound webhooks: after a
restart every event reaches the receiver (the outbox is in the database, not in the process), each acknowledged
once and verified with `standardwebhooks`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from server_process import ADMIN_TOKEN, CallDriver, free_port, running_server, server_env
from sqlalchemy import select
from webhook_receiver import Receiver

from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import FakeTelnyx
from survey_bot.storage.engine import make_engine
from survey_bot.storage.webhook_models import WebhookDelivery

CALLS = (("ai_fills_everything", "incoming"), ("caller_hangs_up_midway", "incoming"))


async def stored_deliveries(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(WebhookDelivery.id, WebhookDelivery.status))).all()
        return {delivery_id: status for delivery_id, status in rows}
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_kill_9_between_commit_and_delivery_loses_no_webhook(database_url: str, tmp_path: Path) -> None:
    receiver, port, fake = Receiver(), free_port(), FakeTelnyx()
    async with serve_asgi(fake.app) as telnyx_url:
        env = server_env(database_url=database_url, telnyx_url=telnyx_url, public_key=fake.signer.public_key_b64,
                         connection_id=fake.connection_id,
                         extra={"SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE": "1",
                                "SURVEY_BOT_WEBHOOKS_RETRY_SCHEDULE": "0.2,0.2,0.2,0.2,0.2,0.2"})
        async with running_server(env, tmp_path / "server.log") as server:
            async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=10,
                                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
                created = await client.post("/api/webhooks", json={"url": f"http://127.0.0.1:{port}/hook"})
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            fake.webhook_url = f"{server.url}/webhooks/telnyx"
            driver = CallDriver(fake, server.url)
            await asyncio.gather(*(driver.play(call, timeout=30) for call in CALLS))
            deadline = time.monotonic() + 10
            while len(stored := await stored_deliveries(database_url)) < len(CALLS):  # committed, not delivered
                assert time.monotonic() < deadline, (stored, server.log_tail())
                await asyncio.sleep(0.05)
            server.kill()
            assert set(stored.values()) == {"pending"}, stored
            async with serve_asgi(receiver.app(), port=port):
                await server.restart()
                events = await receiver.wait_for(secret, len(CALLS))
    assert set(events) == set(stored)
    assert sorted(e["type"] for e in events.values()) == ["response.abandoned", "response.completed"]
    assert set((await stored_deliveries(database_url)).values()) == {"delivered"}
