"""Benchmark webhook intake: `survey-bot serve` under a flood of signed webhooks, against a bare Quart ceiling.

    .venv/bin/python bench/ingest.py --duration 10 --connections 64 --calls 200
    .venv/bin/python bench/ingest.py --server hypercorn
    .venv/bin/python bench/ingest.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/postgres --workers 2

1. The ceiling: a bare Quart app that reads the body and answers 200, on uvicorn (uvloop, httptools), one
   worker, flooded by wrk for `--duration` seconds over `--connections` connections.
2. survey-bot: a fresh database (a temporary SQLite file, or a new database on the PostgreSQL server named by
   `--database`, dropped afterwards) migrated with `survey-bot db upgrade`; the fake Telnyx served in this
   process; `survey-bot serve` in a subprocess. The bench opens calls through the fake (call.initiated ->
   answer -> call.answered -> gather_using_ai; from then on the fake's callers stay quiet and the flood plays
   them), plans the flood with survey-bot's own flow (bench/ingest_flood.py): `--calls` calls in progress at
   once, each a whole conversation (transcript updates and partial results, the AI's end, keypad answers,
   closing words, hang-up; a finished call hands its slot to a fresh one), signs every body right before
   the run, and floods it with wrk (bench/ingest.lua) at the same connection count. wrk's own CPU use is
   reported, to show it is not the bottleneck.
3. Checks: every event acknowledged with a 2xx (and every webhook the fake delivered) is in
   `webhook_events`; no command is left pending or failed; every command sent reached the fake exactly once
   (and none it skipped did); the acknowledged events made exactly the commands the flow says; each call's
   events were processed in the order they were sent in, wherever the earlier one was acknowledged before the
   later one was sent; each call's stored answers match the plan. Reported besides:
   how late the outbox sent the flood's commands, and how many it skipped because the scripted caller had
   hung up first (the flood does not wait for commands; see --rest-rounds).

Targets (SQLite, one worker): events/s >= 0.5x the ceiling; p99 <= 2.5x the ceiling's p99 and < 250 ms.
Only 127.0.0.1 is used; everything is bounded in count and time. Speed is only ever reported as ratios to
the same run's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import httpx
from ingest_flood import OpenCall, Planned, dummy_calls, fingerprint, mean_events_per_call, plan_flood
from sqlalchemy import select

from survey_bot.flow.state import STATE_FIELDS, CallState
from survey_bot.forms.load import load_form
from survey_bot.forms.model import Form
from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import FakeTelnyx, Scenario, WebhookSigner
from survey_bot.storage.engine import make_engine, make_sessionmaker
from survey_bot.storage.models import Command, Response, WebhookEvent

ROOT = Path(__file__).resolve().parent.parent
SURVEY_BOT = Path(sys.executable).with_name("survey-bot")
LUA = Path(__file__).with_name("ingest.lua")
HOST = "127.0.0.1"
TARGET_RATE_RATIO = 0.5  # SQLite
TARGET_RATE_RATIO_POSTGRESQL = 0.3
TARGET_P99_RATIO = 2.5
TARGET_P99_MS = 250.0
TARGET_DEAD_AIR_MS = 100.0
BARE_BODIES = 20_000


# ---- the ceiling --------------------------------------------------------------------------------------------


def serve_bare(port: int) -> None:
    """Serve the ceiling: a Quart app that reads the body and returns 200, on uvicorn, one worker."""
    import uvicorn
    from quart import Quart, request

    app = Quart("bare")

    @app.post("/webhooks/telnyx")
    async def webhook() -> tuple[str, int]:
        await request.get_data()
        return "", 200

    @app.get("/healthz")
    async def healthz() -> tuple[str, int]:
        return "", 200

    uvicorn.run(app, host=HOST, port=port, workers=1, loop="uvloop", http="httptools", lifespan="on",
                access_log=False, log_level="warning")


# ---- processes, ports, CPU ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process and all its live descendants (from /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += times.get(current, 0.0)
        stack.extend(child for child, parent in parents.items() if parent == current)
    return total


async def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode} before it was ready")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url, timeout=1.0)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout} s")


@contextlib.asynccontextmanager
async def running(command: Sequence[str], env: dict[str, str], ready_url: str, log: Path) -> AsyncIterator[int]:
    """Run a server subprocess until the block exits (SIGTERM, then SIGKILL after 20 s); yield its pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(list(command), env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            await wait_ready(ready_url, process)
            yield process.pid
        except BaseException:
            tail = log.read_text(errors="replace").splitlines()[-30:]
            print(f"--- last lines of {log.name}:", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(process.wait, 20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


# ---- wrk ----------------------------------------------------------------------------------------------------


def write_requests(path: Path, bodies: Sequence[bytes], port: int, signer: WebhookSigner) -> float:
    """Write length-prefixed raw requests, each signed now; return the seconds signing took."""
    started = time.perf_counter()
    with path.open("wb") as out:
        for body in bodies:
            headers = signer.headers(body)
            head = (f"POST /webhooks/telnyx HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                    + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                    + f"Content-Length: {len(body)}\r\n\r\n").encode("ascii")
            out.write(b"%d\n" % (len(head) + len(body)) + head + body)
    return time.perf_counter() - started


@dataclass
class WrkResult:
    """What wrk measured, and which event ids got a 2xx."""

    summary: dict[str, Any]
    acked: list[str]
    wrk_cpu_s: float
    server_cpu_s: float
    openers: int  # GET /healthz, one per connection (see ingest.lua)
    # event id -> how many flood requests had been sent when its 2xx came back (one wrk thread only)
    acked_at: dict[str, int] | None = None

    @property
    def seconds(self) -> float:
        return float(self.summary["duration_us"]) / 1e6

    @property
    def rate(self) -> float:
        """Acknowledged (2xx) webhooks per second (the openers, one GET /healthz per connection, left out)."""
        return float(self.summary["acked"] - self.openers) / self.seconds


async def run_wrk(port: int, requests: Path, args: argparse.Namespace, server_pid: int, tmp: Path,
                  profile: str | None = None, pace_ms: int = 0) -> WrkResult:
    result = tmp / f"wrk-{port}.txt"
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{args.duration}s",
               "--timeout", "10s", "-s", str(LUA), f"http://{HOST}:{port}/webhooks/telnyx", "--",
               str(requests), str(args.wrk_threads), str(args.connections), str(pace_ms)]
    profiler = None
    if profile:  # sample the server's stacks during the flood (py-spy: pip install py-spy)
        profiler = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(server_pid), "--subprocesses",
            "--duration", str(args.duration), "--rate", "250", "--gil", "--format", "raw", "--output", profile,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    cpu_before = tree_cpu_seconds(server_pid)
    process = await asyncio.create_subprocess_exec(
        *command, env={**os.environ, "INGEST_RESULT": str(result)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), args.duration + 120)
    except TimeoutError:
        process.kill()
        raise
    server_cpu = tree_cpu_seconds(server_pid) - cpu_before
    if profiler is not None:
        await profiler.wait()
    if process.returncode != 0 or not result.exists():
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output.decode(errors='replace')}")
    lines = result.read_text().splitlines()
    summary = json.loads(lines[0])
    acked: list[str] = []
    acked_at: dict[str, int] = {}
    for line in lines[1:]:
        event_id, _space, sent = line.partition(" ")
        if event_id:
            acked.append(event_id)
            acked_at.setdefault(event_id, int(sent))
    in_file_order = args.wrk_threads == 1 and not summary["wrapped"]  # else sent counts do not map to the file
    return WrkResult(summary, acked, _children_cpu(), server_cpu, args.connections,
                     acked_at if in_file_order else None)


_children_seen = 0.0


def _children_cpu() -> float:
    """CPU seconds of reaped children (wrk) since the last call."""
    global _children_seen
    usage = os.times()
    total = usage.children_user + usage.children_system
    spent, _children_seen = total - _children_seen, total
    return spent


# ---- the database -------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_database(url: str | None, tmp: Path, name: str = "ingest") -> AsyncIterator[str]:
    """A new, empty database: a temporary SQLite file, or a new database on the given PostgreSQL server."""
    if url is None or url.startswith("sqlite"):
        path = tmp / f"{name}.db" if url is None else Path(url.split(":///", 1)[1]).with_stem(name)
        if path.exists():
            raise SystemExit(f"{path} exists: the bench needs a fresh database")
        yield f"sqlite+aiosqlite:///{path}"
        return
    parts = urlsplit(url)
    name = f"survey_bot_bench_{uuid.uuid4().hex[:10]}"
    admin = urlunsplit(("postgresql", parts.netloc, parts.path or "/postgres", "", ""))
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
        finally:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


# ---- the fake and the calls ---------------------------------------------------------------------------------


class QuietFake(FakeTelnyx):
    """The fake Telnyx, but callers only answer: after `answer` the flood plays the rest of each call."""

    def _act(self, call_control_id: str, action: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool,
                                                                                       list[dict[str, Any]]]:
        data, duplicate, events = super()._act(call_control_id, action, body)
        return data, duplicate, events if action == "answer" else []

    def call(self, call_control_id: str) -> Any:
        return self._calls[call_control_id]


async def open_calls(fake: QuietFake, form: Form, count: int, sessions: Any) -> list[OpenCall]:
    """Ring the app `count` times through the fake; return each call once the app has started the voice AI."""
    started = time.perf_counter()
    ids: list[str] = []
    for chunk in range(0, count, 50):  # a few at a time: the fake's HTTP client slows down past ~100 in flight
        for i in range(chunk, min(count, chunk + 50)):
            # keypad entries only keep the fake from hanging up when a gather comes (its events are dropped)
            scenario = Scenario(from_number=f"+1555{i:07d}", to_number=form.numbers[0], keypad=["1"] * 20)
            ids.append(fake.start_call(scenario))
        await wait_opened(fake, len(ids), 120)
    await settle(fake, sessions)
    async with sessions() as session:
        rows = (await session.scalars(select(Response).where(Response.call_control_id.in_(ids)))).all()
    by_call = {row.call_control_id: row for row in rows}
    print(f"  opened {count} calls in {time.perf_counter() - started:.1f} s", flush=True)
    return [OpenCall(fake.call(i), by_call[i].id, state_of(by_call[i])) for i in ids]


def state_of(row: Response) -> CallState:
    """The flow's view of a stored response (as storage.responses reads it)."""
    state = CallState(response_id=row.id, direction=row.direction)
    for name in STATE_FIELDS:
        setattr(state, name, getattr(row, name))
    return state


def _ai_started(fake: FakeTelnyx) -> int:
    return sum(1 for r in fake.requests if r.action == "gather_using_ai" and r.accepted)


async def wait_opened(fake: FakeTelnyx, count: int, timeout: float) -> None:
    """Wait until the app has started the voice AI on `count` calls."""
    deadline = time.monotonic() + timeout
    while _ai_started(fake) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} calls not opened after {timeout} s ({_ai_started(fake)} were)")
        await asyncio.sleep(0.05)


async def open_commands(sessions: Any) -> int:
    async with sessions() as session:
        rows = await session.scalars(select(Command.id).where(Command.status.in_(("pending", "sending"))))
        return len(rows.all())


async def settle(fake: FakeTelnyx, sessions: Any, timeout: float = 120.0) -> None:
    """Wait until the fake is idle and the outbox holds nothing unsent, twice in a row."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        await fake.wait_idle(max(1.0, deadline - time.monotonic()))
        quiet = quiet + 1 if await open_commands(sessions) == 0 else 0
        if time.monotonic() > deadline:
            raise TimeoutError("outbox not drained")
        await asyncio.sleep(0.2)


# ---- checks -------------------------------------------------------------------------------------------------


@dataclass
class Checks:
    """What the database and the fake say after the flood; every list (and dict) should be empty."""

    acked_missing: list[str] = field(default_factory=list)
    commands_lost: dict[str, int] = field(default_factory=dict)  # still pending/sending, or failed
    commands_not_once: list[str] = field(default_factory=list)  # sent, but the fake acted on it 0 or 2+ times
    skipped_but_reached: list[str] = field(default_factory=list)
    unknown_commands: list[str] = field(default_factory=list)
    expected_missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    out_of_order_calls: list[str] = field(default_factory=list)
    state_mismatch: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(v for k, v in vars(self).items() if k != "counts")


def _seconds(later: Any, earlier: Any) -> float:
    return float((later.replace(tzinfo=None) - earlier.replace(tzinfo=None)).total_seconds())


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _order_broken(processed: Sequence[Planned], times: Sequence[Any], index: dict[str, int],
                  acked_at: dict[str, int] | None) -> bool:
    """Whether a later webhook of a call was processed before an earlier one that had been acknowledged
    before the later one was even sent: the server broke the order it received them in. Two webhooks in
    flight together have no such order (on several workers one may wait in a busy process's socket while
    the other is served), so their reordering is only counted. Without wrk's send counts, any reordering."""
    if acked_at is None:
        return True
    for i, earlier in enumerate(processed):
        for j in range(i + 1, len(processed)):
            later = processed[j]
            sent_after_ack = earlier.event_id in acked_at and index[later.event_id] >= acked_at[earlier.event_id]
            if times[j] < times[i] and sent_after_ack:
                return True
    return False


async def check(plan: Sequence[Planned], acked: Sequence[str], fake: FakeTelnyx, sessions: Any,
                acked_at: dict[str, int] | None = None) -> Checks:
    result = Checks()
    async with sessions() as session:
        events = {row.id: row.received_at for row in
                  (await session.execute(select(WebhookEvent.id, WebhookEvent.received_at))).all()}
        commands = (await session.execute(select(Command.command_id, Command.status, Command.event_id,
                                                 Command.created_at, Command.sent_at))).all()
        responses = {r.id: r for r in (await session.scalars(select(Response))).all()}
    acked_set = set(acked)
    result.acked_missing = sorted(acked_set - events.keys())
    delivered = {str(a.event_id) for a in fake.deliveries if a.delivered}
    result.acked_missing += sorted(delivered - events.keys())
    statuses = Counter(row.status for row in commands)
    result.commands_lost = {s: n for s, n in statuses.items() if s not in ("sent", "skipped")}
    reached = Counter(r.command_id or "" for r in fake.requests if r.accepted)
    result.commands_not_once = sorted(r.command_id for r in commands
                                      if r.status == "sent" and reached[r.command_id] != 1)
    result.skipped_but_reached = sorted(r.command_id for r in commands
                                        if r.status == "skipped" and reached[r.command_id])
    result.unknown_commands = sorted(set(reached) - {r.command_id for r in commands})
    planned_ids = {p.event_id for p in plan}
    flood = [r for r in commands if r.event_id in planned_ids]
    flood_commands = {r.command_id for r in flood}
    due = {c for p in plan if p.event_id in acked_set for c in p.commands}
    allowed = {c for p in plan if p.event_id in events for c in p.commands}
    result.expected_missing = sorted(due - flood_commands)
    result.unexpected = sorted(flood_commands - allowed)
    by_call: dict[str, list[Planned]] = defaultdict(list)
    for p in plan:
        if p.event_id in events:
            by_call[p.response_id].append(p)
    index = {p.event_id: i for i, p in enumerate(plan)}  # a webhook's place in the file wrk sends in order
    reordered_in_flight = 0
    for response_id, processed in by_call.items():
        times = [events[p.event_id] for p in processed]
        if times != sorted(times):
            if _order_broken(processed, times, index, acked_at):
                result.out_of_order_calls.append(response_id)
            else:
                reordered_in_flight += 1
        row = responses[response_id]
        if fingerprint(row.status, row.answers, row.message_history) != processed[-1].after:
            result.state_mismatch.append(response_id)
    lags = [_seconds(r.sent_at, r.created_at) for r in flood if r.status == "sent" and r.sent_at is not None]
    # Dead air: from the webhook that made a command due (received, committed, then acknowledged) to that
    # command reaching Telnyx; the receipt comes a commit before the 2xx, so this errs on the long side.
    reached_at = {}
    for request in fake.requests:
        if request.accepted and request.command_id:
            reached_at.setdefault(request.command_id, request.received_at)
    dead_air = [reached_at[r.command_id] - _as_utc(events[r.event_id]).timestamp() for r in flood
                if r.command_id in reached_at and r.event_id in events]
    result.counts = {
        "events_planned": len(plan), "events_acked": len(acked), "events_acked_distinct": len(acked_set),
        "events_in_db": len(events), "flood_events_in_db": len(planned_ids & events.keys()),
        "commands_in_db": len(commands), "flood_commands_due": len(due), "flood_commands_in_db": len(flood_commands),
        "flood_commands_sent": sum(1 for r in flood if r.status == "sent"),
        "flood_commands_skipped_call_over": sum(1 for r in flood if r.status == "skipped"),
        "outbox_lag_p50_ms": round(1000 * _percentile(lags, 0.5), 1),
        "outbox_lag_p99_ms": round(1000 * _percentile(lags, 0.99), 1),
        "dead_air_p50_ms": round(1000 * _percentile(dead_air, 0.5), 1),
        "dead_air_p99_ms": round(1000 * _percentile(dead_air, 0.99), 1),
        "commands_resent_as_duplicates": sum(1 for r in fake.requests if r.duplicate),
        "calls_touched": len(by_call),
        "calls_reordered_only_while_in_flight_together": reordered_in_flight,
        "calls_completed": sum(1 for r in by_call if responses[r].status == "completed"),
    }
    return result


# ---- the runs -----------------------------------------------------------------------------------------------


async def bare_run(args: argparse.Namespace, form: Form, tmp: Path) -> WrkResult:
    port = free_port()
    bodies = [p.body for p in plan_flood(dummy_calls(form), form, slots=args.calls, total=BARE_BODIES,
                                         seed=args.seed + 1, delivered_to=f"http://{HOST}:{port}/webhooks/telnyx")]
    requests = tmp / "bare.requests"
    write_requests(requests, bodies, port, WebhookSigner.generate())
    command = [sys.executable, __file__, "--serve-bare", str(port)]
    async with running(command, dict(os.environ), f"http://{HOST}:{port}/healthz", tmp / "bare.log") as pid:
        _children_cpu()
        return await run_wrk(port, requests, args, pid, tmp)


async def survey_bot_run(args: argparse.Namespace, form: Form, tmp: Path, events_wanted: int,
                         pace_rate: float | None = None) -> dict[str, Any]:
    """One flood of `survey-bot serve` on a fresh database: as fast as it goes, or paced at `pace_rate`/s."""
    port = free_port()
    app_url = f"http://{HOST}:{port}"
    fake = QuietFake(f"{app_url}/webhooks/telnyx")
    name = "ingest-paced" if pace_rate else "ingest"
    async with fresh_database(args.database, tmp, name) as database_url, serve_asgi(fake.app) as telnyx_url:
        env = {**os.environ, "SURVEY_BOT_DATABASE_URL": database_url, "SURVEY_BOT_LOG_LEVEL": "WARNING",
               "SURVEY_BOT_FORMS_DIR": str(ROOT / "forms"), "TELNYX_PUBLIC_KEY": fake.signer.public_key_b64,
               "TELNYX_BASE_URL": telnyx_url, "TELNYX_API_KEY": "KEY_bench",
               "TELNYX_CONNECTION_ID": fake.connection_id}
        subprocess.run([str(SURVEY_BOT), "db", "upgrade"], env=env, check=True, capture_output=True)
        command = [str(SURVEY_BOT), "serve", "--host", HOST, "--port", str(port), "--workers", str(args.workers),
                   "--server", args.server]
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)
        try:
            async with running(command, env, f"{app_url}/healthz", tmp / f"survey-bot-{name}.log") as pid:
                per_call = mean_events_per_call(form)
                pool = args.calls + math.ceil(1.2 * events_wanted / per_call)
                calls = await open_calls(fake, form, pool, sessions)
                plan = plan_flood(iter(calls), form, slots=args.calls, total=events_wanted, seed=args.seed,
                                  delivered_to=f"{app_url}/webhooks/telnyx", rest_rounds=args.rest_rounds,
                                  min_gap=args.connections)
                requests = tmp / "survey-bot.requests"
                signing = write_requests(requests, [p.body for p in plan], port, fake.signer)
                print(f"  planned {len(plan)} webhooks over {pool} calls ({per_call:.0f} per call), "
                      f"signed in {signing:.1f} s; one call's webhooks are at least {closest(plan)} apart", flush=True)
                _children_cpu()
                # each connection waits after every answer; ~12 ms of answer time at half the peak stays on top
                pace_ms = max(0, round(1000 * args.connections / pace_rate) - 12) if pace_rate else 0
                measured = await run_wrk(port, requests, args, pid, tmp, None if pace_rate else args.profile,
                                         pace_ms)
                print(f"  {measured.rate:.0f} events/s acknowledged; waiting for the outbox to drain", flush=True)
                drain_started = time.perf_counter()
                with contextlib.suppress(TimeoutError):  # what is left unsent shows up in the checks
                    await settle(fake, sessions, timeout=60)
                drained = time.perf_counter() - drain_started
                checks = await check(plan, measured.acked, fake, sessions, measured.acked_at)
        finally:
            await engine.dispose()
    mix = Counter(p.event_type for p in plan)
    return {"wrk": measured, "checks": checks, "drain_s": drained, "mix": mix, "pool": pool}


def closest(plan: Sequence[Planned]) -> int:
    """The smallest distance in the stream between two webhooks of one call (order holds if > connections)."""
    last: dict[str, int] = {}
    gap = len(plan)
    for position, p in enumerate(plan):
        if p.response_id in last:
            gap = min(gap, position - last[p.response_id])
        last[p.response_id] = position
    return gap


def report(args: argparse.Namespace, bare: WrkResult, run: dict[str, Any]) -> bool:
    sb: WrkResult = run["wrk"]
    checks: Checks = run["checks"]
    rate_ratio = sb.rate / bare.rate
    p99_ratio = sb.summary["p99_us"] / bare.summary["p99_us"]
    db = "PostgreSQL" if args.database and args.database.startswith("postgresql") else "SQLite"
    print()
    print(f"survey-bot on {db}, {args.server}, {args.workers} worker(s); {args.connections} connections, "
          f"{args.duration} s, {args.calls} calls in progress ({run['pool']} opened)")
    print(f"{'':>12} {'events/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'non-2xx':>8} "
          f"{'errors':>7} {'server CPU':>10} {'wrk CPU':>8}")
    for name, r in (("bare Quart", bare), ("survey-bot", sb)):
        s = r.summary
        errors = s["connect_errors"] + s["read_errors"] + s["write_errors"] + s["timeouts"]
        print(f"{name:>12} {r.rate:>10.0f} {s['p50_us'] / 1000:>8.2f} {s['p90_us'] / 1000:>8.2f} "
              f"{s['p99_us'] / 1000:>8.2f} {s['max_us'] / 1000:>8.1f} {s['non_2xx']:>8} {errors:>7} "
              f"{r.server_cpu_s / r.seconds:>9.0%} {r.wrk_cpu_s / r.seconds:>8.0%}")
    p99_ms = sb.summary["p99_us"] / 1000
    target = TARGET_RATE_RATIO_POSTGRESQL if db == "PostgreSQL" else TARGET_RATE_RATIO
    print(f"ratio events/s {rate_ratio:.2f} (target >= {target}); p99 ratio {p99_ratio:.2f} "
          f"(target <= {TARGET_P99_RATIO}); p99 {p99_ms:.1f} ms (target < {TARGET_P99_MS:.0f})")
    if sb.summary["wrapped"]:
        print(f"WARNING: wrk ran out of planned webhooks {sb.summary['wrapped']} time(s) and resent some")
    print(f"mix: {dict(run['mix'].most_common())}")
    counts = checks.counts
    print(f"outbox: {counts['flood_commands_sent']} of the flood's commands sent, "
          f"{counts['flood_commands_skipped_call_over']} skipped (call over); lag from webhook to sent "
          f"p50 {counts['outbox_lag_p50_ms']:.0f} ms, p99 {counts['outbox_lag_p99_ms']:.0f} ms; "
          f"drained {run['drain_s']:.1f} s after the flood")
    print(f"counts: {counts}")
    if checks.counts["flood_commands_skipped_call_over"]:
        print(f"  {checks.counts['flood_commands_skipped_call_over']} command(s) skipped by the dispatcher because the "
              "call had hung up first: the flood plays callers without waiting for commands, so a dispatcher "
              "running later than the caller's next steps (see outbox lag) finds the call over")
    for name, value in vars(checks).items():
        if name != "counts":
            print(f"  {name}: {len(value)}" + (f" {sorted(value)[:5] if isinstance(value, list) else value}"
                                               if value else ""))
    met = (rate_ratio >= target and p99_ratio <= TARGET_P99_RATIO and p99_ms < TARGET_P99_MS
           and sb.summary["non_2xx"] == 0)
    print(f"checks {'passed' if checks.ok else 'FAILED'}; targets {'met' if met else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "database": db, "server": args.server, "workers": args.workers, "connections": args.connections,
            "duration": args.duration, "calls": args.calls, "bare": bare.summary | {"rate": bare.rate},
            "survey_bot": sb.summary | {"rate": sb.rate}, "rate_ratio": rate_ratio, "p99_ratio": p99_ratio,
            "checks": {k: (v if k == "counts" else len(v)) for k, v in vars(checks).items()},
        }, indent=1))
    return checks.ok


async def main_async(args: argparse.Namespace) -> int:
    form = load_form(ROOT / "forms" / f"{args.form}.json")
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as folder:
        tmp = Path(args.keep) if args.keep else Path(folder)
        tmp.mkdir(parents=True, exist_ok=True)
        print("bare Quart ceiling ...", flush=True)
        bare = await bare_run(args, form, tmp)
        print(f"  {bare.rate:.0f} requests/s", flush=True)
        wanted = max(5_000, math.ceil(bare.rate * args.duration * args.headroom))
        print(f"survey-bot ({args.server}, {args.workers} worker(s)) ...", flush=True)
        run = await survey_bot_run(args, form, tmp, wanted)
        paced = None
        if args.dead_air:
            rate = run["wrk"].rate / 2
            print(f"survey-bot again, paced at half its peak ({rate:.0f} events/s), for the dead air ...", flush=True)
            paced = await survey_bot_run(args, form, tmp, math.ceil(rate * args.duration * 1.2), pace_rate=rate)
    ok = report(args, bare, run)
    if paced is not None:
        ok = report_dead_air(paced) and ok
    return 0 if ok else 1


def report_dead_air(paced: dict[str, Any]) -> bool:
    """The paced run: the silence between a webhook and the command it made due reaching Telnyx."""
    counts, wrk = paced["checks"].counts, paced["wrk"]
    p99 = counts["dead_air_p99_ms"]
    print(f"dead air at {wrk.rate:.0f} events/s (half the peak): webhook received -> command at Telnyx "
          f"p50 {counts['dead_air_p50_ms']:.0f} ms, p99 {p99:.0f} ms (target p99 < {TARGET_DEAD_AIR_MS:.0f} ms) "
          f"over {counts['flood_commands_sent']} commands; checks {'passed' if paced['checks'].ok else 'FAILED'}")
    return bool(paced["checks"].ok)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of flood per server (default 10)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--calls", type=int, default=200, help="calls in progress at once during the flood")
    parser.add_argument("--database", help="default: a temporary SQLite file; a postgresql+asyncpg:// URL names "
                        "the server on which a fresh database is created and dropped")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server", choices=["uvicorn", "hypercorn"], default="uvicorn")
    parser.add_argument("--form", default="customer_satisfaction")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--headroom", type=float, default=1.0,
                        help="distinct webhooks planned, as a multiple of the ceiling's count (default 1.0)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rest-rounds", type=int, default=5,
                        help="rounds a call sits out after a webhook that made commands (a caller hearing the "
                        "prompt); default 5")
    parser.add_argument("--no-dead-air", dest="dead_air", action="store_false",
                        help="skip the second, paced run that measures the dead air a caller hears")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--profile", help="py-spy the survey-bot server during the flood; collapsed stacks here")
    parser.add_argument("--keep", metavar="DIR", help="keep the SQLite database, logs and requests in DIR")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 120 or not 1 <= args.connections <= 1024 or not 1 <= args.calls <= 10_000:
        parser.error("duration 1..120 s, connections 1..1024, calls 1..10000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    import uvloop

    return uvloop.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
