"""Bench: a campaign of --contacts contacts against the fake Telnyx, with fast scripted outcomes (nobody
answers: each dial is one quick call), and whether its limits held at every moment.

Reports dials/s achieved against the configured --rate, the scheduler's time (wall time inside its rounds,
and the process's CPU while the campaign ran: the fake Telnyx and the app share the process), the most calls
Telnyx had in progress at once (against --concurrency) and the most dials in any one-second window (against
--rate). On SQLite one server; with --database postgresql+asyncpg://.../postgres a fresh database with two
servers (both schedulers and dispatchers working the same campaign), dropped after. Not a test.

    .venv/bin/python bench/campaign.py --contacts 10000 --rate 100 --concurrency 20
    .venv/bin/python bench/campaign.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert, select

from survey_bot.jobs.scheduler import Scheduler
from survey_bot.sandbox.stack import Stack, running_stack, sandbox_key
from survey_bot.sandbox.workspace import prepare_database
from survey_bot.serving.embedded import serve_asgi
from survey_bot.storage.campaign_models import Campaign, CampaignContact
from survey_bot.utc import now as utc_now
from survey_bot.web.app import create_app
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"


def timed_rounds(totals: list[float]) -> None:
    """Have every Scheduler record the wall time of its rounds in `totals`."""
    original = Scheduler.run_once

    async def run_once(self: Scheduler, now: Any = None) -> int:
        began = time.perf_counter()
        try:
            return await original(self, now)
        finally:
            totals.append(time.perf_counter() - began)

    Scheduler.run_once = run_once  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def database(url: str | None) -> AsyncIterator[str]:
    """A fresh database at head: SQLite in a temporary folder, or a new PostgreSQL database dropped after."""
    if url is None:
        with tempfile.TemporaryDirectory() as folder:
            yield await prepare_database(f"sqlite+aiosqlite:///{folder}/bench.db")
        return
    name = f"sb_bench_{uuid.uuid4().hex[:10]}"
    admin = url.replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield await prepare_database(url.rsplit("/", 1)[0] + f"/{name}")
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def add_campaign(stack: Stack, contacts: int, rate: float, concurrency: int) -> str:
    campaign_id, now = str(uuid.uuid4()), utc_now()
    async with state(stack.app).sessions() as session, session.begin():
        session.add(Campaign(id=campaign_id, name="bench", form_id="customer_satisfaction", status="running",
                             window_start="00:00", window_end="23:59", days="mon,tue,wed,thu,fri,sat,sun",
                             max_attempts=1, retry_after_seconds=60, concurrency=concurrency, rate=rate, amd=False,
                             voicemail=None, quota=None, locale=None, default_region=None, caller_id=None,
                             columns=[], created_at=now, started_at=now))
        await session.flush()
        rows = [{"campaign_id": campaign_id, "line": n + 2, "phone": f"+1555{n:07d}", "timezones": "UTC",
                 "locale": None, "name": None, "variables": {}, "state": "pending", "attempts": 0}
                for n in range(contacts)]
        for start in range(0, len(rows), 2000):
            await session.execute(insert(CampaignContact), rows[start:start + 2000])
    return campaign_id


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rounds: list[float] = []
    timed_rounds(rounds)
    async with database(args.database) as url:
        settings: dict[str, Any] = {"forms_dir": FORMS, "data_key": sandbox_key()}
        async with running_stack(url, settings) as stack, contextlib.AsyncExitStack() as more:
            if args.database:  # a second server on the same database
                second = create_app({**settings, "database_url": url, "telnyx_public_key":
                                     stack.fake.signer.public_key_b64, "telnyx_base_url": stack.telnyx_url,
                                     "telnyx_api_key": "KEY_simulator", "telnyx_timeout": 2.0,
                                     "telnyx_connection_id": stack.fake.connection_id, "from_number": "+15550009999"})
                await more.enter_async_context(serve_asgi(second))
            campaign_id = await add_campaign(stack, args.contacts, args.rate, args.concurrency)
            began, cpu = time.perf_counter(), time.process_time()
            most_live, seen, dials, live = 0, 0, [], set()
            while True:  # new requests only, and the calls still up (a scan of every request costs O(n) each time)
                fresh, seen = stack.fake.requests[seen:], len(stack.fake.requests)
                for r in fresh:
                    if r.action == "dial" and r.accepted:
                        dials.append(r)
                        live.add(r.call_control_id or "")
                live = {c for c in live if stack.fake.call_state(c) != "hangup"}
                most_live = max(most_live, len(live))
                if len(dials) >= args.contacts:
                    break
                await asyncio.sleep(0.02)
            elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
            await stack.settle(60)
            async with state(stack.app).sessions() as session:
                status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    times = sorted(r.received_at for r in dials)
    busiest, first = 0, 0
    for last, moment in enumerate(times):  # the most dials in any window [t, t + 1s)
        while moment - times[first] >= 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    return {"database": "postgresql, 2 servers" if args.database else "sqlite, 1 server", "dials": len(times),
            "rate": args.rate, "dials_per_s": round(len(times) / max(times[-1] - times[0], 1e-9), 1),
            "busiest_second": busiest, "rate_ok": busiest <= math.ceil(args.rate),
            "concurrency": args.concurrency, "most_in_progress": most_live,
            "concurrency_ok": most_live <= args.concurrency, "elapsed_s": round(elapsed, 1),
            "process_cpu_s": round(cpu, 1), "scheduler_round_s": round(sum(rounds), 1), "rounds": len(rounds),
            "campaign": status}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--database", help="postgresql+asyncpg://... of a server that lets the user create databases")
    for key, value in asyncio.run(run(parser.parse_args())).items():
        print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
