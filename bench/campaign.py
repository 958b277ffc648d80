"""Bench: a campaign of --contacts contacts against the fake Telnyx, with fast scripted outcomes that take
time, and whether its limits held at every moment.

The callees (each contact's, drawn from --seed): 35 % nobody answers (it rings 0.5-1.5 s, then Telnyx gives
up), 20 % busy at once, 15 % a machine (rings 0.2-0.6 s, greets for 0.5-1.0 s; the campaign leaves a voicemail
after the greeting, then hangs up), 30 % a person (rings 0.2-0.6 s, answers the customer_satisfaction survey
completely through the voice AI). So calls are in progress at once and `--concurrency` binds before `--rate`.

Reports dials/s achieved against the configured --rate, the scheduler's time (wall time inside its rounds, and the
process's CPU while the campaign ran: the fake Telnyx and the app share the process), the most calls Telnyx had in
progress at once (computed exactly from each call's dial and hang-up times at the fake), against --concurrency, and
for how much of the run the limit was reached; the campaign's own count (contacts `dialing`, sampled every 0.1 s),
which is what the scheduler holds to --concurrency and stays up until the app has handled the hang-up; the most
dials in any one-second window (against --rate); the outcomes recorded and the errors the app logged, and how many
contacts were dialled more than once (each has one attempt); and a PASS/FAIL line per limit (exit status 1 on a
FAIL). On SQLite one server; with --database postgresql+asyncpg://.../postgres a fresh database with two servers
(both schedulers and dispatchers working the same campaign), dropped after. Not a test.

    .venv/bin/python bench/campaign.py --contacts 10000 --rate 50 --concurrency 20
    .venv/bin/python bench/campaign.py --contacts 10000 --rate 50 --concurrency 20 \
        --database postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import func, insert, select

from survey_bot.jobs.scheduler import Scheduler
from survey_bot.sandbox.stack import Stack, running_stack, sandbox_key
from survey_bot.sandbox.workspace import prepare_database
from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import FakeTelnyx, ReceivedCommand, Scenario
from survey_bot.simulator.examples import ai_fills_everything
from survey_bot.storage.campaign_models import Campaign, CampaignContact
from survey_bot.utc import now as utc_now
from survey_bot.web.app import create_app
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
VOICEMAIL = "Hello, this is Acme about your recent order. We will try again later."
MIX = (("no_answer", 0.35), ("busy", 0.20), ("machine", 0.15), ("human", 0.30))


def callees(seed: int) -> Callable[[dict[str, Any]], Awaitable[Scenario]]:
    """The fake's callee hook: each dialled number's callee, the same for a number on every run of a seed."""
    person = ai_fills_everything()

    async def callee(dial: dict[str, Any]) -> Scenario:
        to = str(dial["to"])
        draw = random.Random(f"{seed}:{to}")
        kind = draw.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        if kind == "no_answer":
            return Scenario("outgoing", to_number=to, callee="no_answer", ring_s=draw.uniform(0.5, 1.5))
        if kind == "busy":
            return Scenario("outgoing", to_number=to, callee="busy")
        if kind == "machine":
            return Scenario("outgoing", to_number=to, callee="machine_beep", ring_s=draw.uniform(0.2, 0.6),
                            greeting_s=draw.uniform(0.5, 1.0))
        return Scenario("outgoing", to_number=to, callee="human", ring_s=draw.uniform(0.2, 0.6),
                        ai_steps=person.ai_steps)

    return callee


def call_spans(fake: FakeTelnyx, dials: list[ReceivedCommand]) -> list[tuple[float, float]]:
    """(dial received, hang-up emitted) of each call at the fake Telnyx; a call never hung up lasts forever."""
    spans = []
    for dial in dials:
        ends = [e["data"]["occurred_at"] for e in fake.events_emitted(dial.call_control_id or "")
                if e["data"]["event_type"] == "call.hangup"]
        end = datetime.fromisoformat(ends[0]).timestamp() if ends else math.inf
        spans.append((dial.received_at, end))
    return spans


def most_at_once(spans: list[tuple[float, float]], limit: int) -> tuple[int, float]:
    """The most calls in progress at any moment, and the seconds during which `limit` or more were."""
    moments = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])  # an end goes first
    most, live, at_limit, since = 0, 0, 0.0, 0.0
    for moment, change in moments:
        if live >= limit:
            at_limit += moment - since
        live += change
        most, since = max(most, live), moment
    return most, at_limit


async def in_progress(stack: Stack, campaign_id: str) -> int:
    """The campaign's own count of its calls in progress (contacts `dialing`), which `--concurrency` bounds."""
    async with state(stack.app).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CampaignContact).where(
            CampaignContact.campaign_id == campaign_id, CampaignContact.state == "dialing")) or 0)


def busiest_second(times: list[float]) -> int:
    """The most dials in any window [t, t + 1 s)."""
    busiest, first = 0, 0
    for last, moment in enumerate(times):
        while moment - times[first] >= 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest


class ErrorCount(logging.Handler):
    """Count the errors the app logs during the run, by message (a failed dispatcher pass, a failed webhook)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.name}: {record.getMessage()[:80]}"
        self.counts[key] = self.counts.get(key, 0) + 1


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
                             max_attempts=1, retry_after_seconds=60, concurrency=concurrency, rate=rate, amd=True,
                             voicemail=VOICEMAIL, quota=None, locale=None, default_region=None, caller_id=None,
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
    errors = ErrorCount()
    logging.getLogger().addHandler(errors)
    async with database(args.database) as url:
        settings: dict[str, Any] = {"forms_dir": FORMS, "data_key": sandbox_key()}
        async with running_stack(url, settings) as stack, contextlib.AsyncExitStack() as more:
            if args.database:  # a second server on the same database
                second = create_app({**settings, "database_url": url, "telnyx_public_key":
                                     stack.fake.signer.public_key_b64, "telnyx_base_url": stack.telnyx_url,
                                     "telnyx_api_key": "KEY_simulator", "telnyx_timeout": 2.0,
                                     "telnyx_connection_id": stack.fake.connection_id, "from_number": "+15550009999"})
                await more.enter_async_context(serve_asgi(second))
            stack.fake.callee = callees(args.seed)
            campaign_id = await add_campaign(stack, args.contacts, args.rate, args.concurrency)
            began, cpu = time.perf_counter(), time.process_time()
            seen, dials, dialing = 0, [], []
            while len(dials) < args.contacts:  # new requests only (a scan of every request costs O(n) each time)
                fresh, seen = stack.fake.requests[seen:], len(stack.fake.requests)
                dials += [r for r in fresh if r.action == "dial" and r.accepted]
                dialing.append(await in_progress(stack, campaign_id))
                await asyncio.sleep(0.1)
            elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
            await stack.settle(60)
            for _ in range(100):  # the scheduler marks it finished on its next round
                async with state(stack.app).sessions() as session:
                    status = await session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
                if status == "finished":
                    break
                await asyncio.sleep(0.1)
            spans = call_spans(stack.fake, dials)
            dialled = Counter(str(r.body.get("to")) for r in stack.fake.requests if r.action == "dial" and r.accepted)
            async with state(stack.app).sessions() as session:
                outcomes = {str(outcome): count for outcome, count in (await session.execute(
                    select(CampaignContact.last_outcome, func.count()).where(CampaignContact.campaign_id == campaign_id)
                    .group_by(CampaignContact.last_outcome))).all()}
    times = sorted(start for start, _ in spans)
    busiest = busiest_second(times)
    most, at_limit = most_at_once(spans, args.concurrency)
    duration = sorted(end - start for start, end in spans)
    span = max(times[-1] - times[0], 1e-9)
    return {"database": "postgresql, 2 servers" if args.database else "sqlite, 1 server", "dials": len(times),
            "rate": args.rate, "dials_per_s": round(len(times) / span, 1), "busiest_second": busiest,
            "concurrency": args.concurrency, "most_in_progress": most,
            "mean_in_progress": round(sum(duration) / span, 1), "time_at_concurrency_limit": f"{at_limit / span:.0%}",
            "app_dialing_max_mean": (max(dialing), round(sum(dialing) / len(dialing), 1)),
            "call_s_p50_mean_max": (round(duration[len(duration) // 2], 2), round(sum(duration) / len(duration), 2),
                                    round(duration[-1], 2)),
            "elapsed_s": round(elapsed, 1), "process_cpu_s": round(cpu, 1),
            "scheduler_round_s": round(sum(rounds), 1), "rounds": len(rounds), "campaign": status,
            "outcomes": dict(sorted(outcomes.items())), "errors_logged": errors.counts,
            "contacts_dialled_twice": sum(1 for n in dialled.values() if n > 1),
            "rate_limit": "PASS" if busiest <= math.ceil(args.rate) else "FAIL",
            "concurrency_limit": "PASS" if most <= args.concurrency else "FAIL"}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1, help="draws each contact's callee")
    parser.add_argument("--database", help="postgresql+asyncpg://... of a server that lets the user create databases")
    figures = asyncio.run(run(parser.parse_args()))
    for key, value in figures.items():
        print(f"{key:>26}: {value}")
    print(f"rate: {figures['rate_limit']} (busiest second {figures['busiest_second']} dials, "
          f"limit {figures['rate']:g}/s)")
    print(f"concurrency: {figures['concurrency_limit']} (at most {figures['most_in_progress']} calls in progress at "
          f"Telnyx, limit {figures['concurrency']})")
    sys.exit(0 if figures["rate_limit"] == figures["concurrency_limit"] == "PASS" else 1)


if __name__ == "__main__":
    main()
