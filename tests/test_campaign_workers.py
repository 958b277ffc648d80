"""Two servers on one PostgreSQL database run one campaign: both schedulers and both dispatchers work the same
contacts, yet no contact is ever in two calls at once and, as Telnyx sees it, the calls in progress never
exceed the campaign's concurrency nor the dials in any one second its rate. (SQLite has one writer.)"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from campaign_helpers import add_campaign, contacts, human, nobody, wait_until_finished

from survey_bot.sandbox.stack import Stack, running_stack, sandbox_key
from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import Delivery
from survey_bot.web.app import create_app

FORMS = Path(__file__).resolve().parent.parent / "forms"
CONCURRENCY, RATE = 3, 5.0
PHONES = [f"+121255504{n:02d}" for n in range(16)]
BUSY_FIRST = set(PHONES[:5])  # busy on the first dial, a person on the second


@pytest.fixture
async def two_servers(database_url: str) -> AsyncIterator[Stack]:
    settings: dict[str, Any] = {"forms_dir": FORMS, "call_silence_timeout": 5.0,
                                "data_key": os.environ.get("SURVEY_BOT_DATA_KEY") or sandbox_key()}
    async with running_stack(database_url, settings) as first:
        second = create_app({**settings, "database_url": database_url,
                             "telnyx_public_key": first.fake.signer.public_key_b64,
                             "telnyx_base_url": first.telnyx_url, "telnyx_api_key": "KEY_simulator",
                             "telnyx_connection_id": first.fake.connection_id, "telnyx_timeout": 2.0,
                             "from_number": "+15550009999"})
        async with serve_asgi(second):
            yield first


@pytest.mark.parametrize("backend", ["postgresql"])  # several servers share a database on PostgreSQL only
async def test_two_servers_never_dial_a_contact_twice_at_once_nor_exceed_the_limits(two_servers: Stack) -> None:
    stack = two_servers
    slow = Delivery(delay_s=0.05)  # each call lasts a few tenths of a second
    for phone in PHONES:
        if phone in BUSY_FIRST:
            stack.fake.expect_dial(nobody(phone, "busy"))
        stack.fake.expect_dial(dataclasses.replace(human(phone), delivery=slow))
    campaign_id = await add_campaign(stack, PHONES, concurrency=CONCURRENCY, rate=RATE, retry_after_seconds=1)
    live_counts: list[int] = []
    per_contact_overlap: list[str] = []

    async def watch() -> None:
        while True:
            dials = [r for r in stack.fake.requests if r.action == "dial" and r.accepted and r.call_control_id]
            live = [r for r in dials if stack.fake.call_state(r.call_control_id or "") != "hangup"]
            live_counts.append(len(live))
            phones = [r.body["to"] for r in live]
            per_contact_overlap.extend(p for p in set(phones) if phones.count(p) > 1)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        await wait_until_finished(stack, campaign_id, seconds=60)
    finally:
        watcher.cancel()
    found = await contacts(stack, campaign_id)
    assert {c.disposition for c in found.values()} == {"complete"}
    assert sorted(c.attempts for c in found.values()) == [1] * 11 + [2] * 5
    dials = [r for r in stack.fake.requests if r.action == "dial" and r.accepted]
    assert len(dials) == len({r.command_id for r in dials}) == 21  # each dial sent once, by one server
    assert max(live_counts) <= CONCURRENCY and not per_contact_overlap
    times = sorted(r.received_at for r in dials)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= math.ceil(RATE), times
