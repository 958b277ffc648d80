"""Run `survey-bot serve` as a real subprocess on a loopback port, and the pieces the fault tests share.

The server gets a clean environment (nothing SURVEY_BOT_*/TELNYX_* leaks in from the test runner) plus the
variables a test passes, keeps its port across restarts (so the fake Telnyx's webhook URL stays valid), and
writes its log to a file a failing test can show. `kill()` is a real `kill -9` of the whole process group
(with `--workers N` uvicorn forks children that must die too); `terminate()` sends SIGTERM and waits.

Shared by the crash, shutdown, scale-out, Telnyx-fault and replay tests: the eight scripted call variants
(the four example callers, inbound and outbound), a driver that places them, a reference run of each on an
uninterrupted in-process stack, and snapshots of what a user sees of a response.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from quart import Quart, request
from sqlalchemy import func, select

from survey_bot.sandbox.stack import running_stack
from survey_bot.simulator import FakeTelnyx, Scenario, examples
from survey_bot.storage import sealing
from survey_bot.storage.engine import make_engine, make_sessionmaker
from survey_bot.storage.models import Command, Response, WebhookEvent

__all__ = [
    "ADMIN_TOKEN",
    "CALL_KINDS",
    "VARIANTS",
    "CallDriver",
    "Expected",
    "PlacedCall",
    "ServerProcess",
    "Stored",
    "capture_app",
    "free_port",
    "read_stored",
    "reference_outcomes",
    "running_server",
    "server_env",
    "snapshot",
    "wait_outbox_empty",
]

REPO = Path(__file__).resolve().parent.parent
FORMS = REPO / "forms"
ADMIN_TOKEN = "fault-test-admin"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(*, database_url: str, telnyx_url: str, public_key: str, connection_id: str = "1494404757140276705",
               extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings a server under test reads from its environment (see survey_bot.config.ENVIRONMENT)."""
    env = {
        "SURVEY_BOT_DATABASE_URL": database_url,
        "SURVEY_BOT_FORMS_DIR": str(FORMS),
        "TELNYX_PUBLIC_KEY": public_key,
        "TELNYX_BASE_URL": telnyx_url,
        "TELNYX_API_KEY": "KEY_fault_tests",
        "TELNYX_CONNECTION_ID": connection_id,
        "SURVEY_BOT_FROM_NUMBER": "+15550009999",
        "SURVEY_BOT_ADMIN_TOKEN": ADMIN_TOKEN,
        "SURVEY_BOT_LOG_LEVEL": "WARNING",
        "SURVEY_BOT_DATA_KEY": os.environ["SURVEY_BOT_DATA_KEY"],  # the tests' throwaway key (conftest)
    }
    env.update(extra or {})
    return env


class ServerProcess:
    """One `survey-bot serve` process (re)startable on a fixed port."""

    def __init__(self, env: Mapping[str, str], log_path: Path, *, port: int | None = None, workers: int = 1) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SURVEY_BOT_", "TELNYX_"))}
        self.env.update(env)
        self.log_path = log_path
        self.port = port or free_port()
        self.workers = workers
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.start_seconds: list[float] = []  # how long each start took until /healthz answered
        self.program = [sys.executable, "-m", "survey_bot"]  # the `survey-bot` command

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self, timeout: float = 30.0) -> None:
        """Spawn the server and return once GET /healthz answers 200."""
        assert not self.running, "already running"
        command = [*self.program, "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(self.workers)]
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"--- start #{self.starts + 1}: {' '.join(command)}\n".encode())
            log.flush()
            # A session of its own, so kill() can take uvicorn's worker children down with it.
            self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1
        await self._wait_healthy(began + timeout)
        self.start_seconds.append(time.monotonic() - began)

    async def _wait_healthy(self, deadline: float) -> None:
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as client:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise RuntimeError(f"server exited with {code} while starting:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"server not healthy in time:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """kill -9 the server (and any worker processes) and reap it."""
        assert self.process is not None and self.running, "not running"
        self._sigkill()
        self.kills += 1

    def _sigkill(self) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    async def terminate(self, timeout: float = 30.0) -> int:
        """Send SIGTERM (graceful shutdown) and wait for the exit; return the exit code."""
        assert self.process is not None and self.running, "not running"
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self._sigkill()
                raise TimeoutError(f"server ignored SIGTERM for {timeout} s:\n{self.log_tail()}")
            await asyncio.sleep(0.02)
        return self.process.returncode

    async def restart(self) -> None:
        """Start again on the same port with the same environment."""
        await self.start()

    async def aclose(self) -> None:
        """Make sure nothing is left running."""
        if self.process is not None and self.process.poll() is None:
            self._sigkill()
        # a worker child orphaned by a crashed parent would still hold the session
        if self.process is not None and self.workers > 1:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@contextlib.asynccontextmanager
async def running_server(env: Mapping[str, str], log_path: Path, *, workers: int = 1,
                         port: int | None = None) -> AsyncIterator[ServerProcess]:
    """A started ServerProcess, killed on exit whatever happened."""
    server = ServerProcess(env, log_path, port=port, workers=workers)
    try:
        await server.start()
        yield server
    finally:
        await server.aclose()


# --- scripted calls and their expected outcomes -------------------------------------------------------------

# (name, scenario factory, form the outbound variant is placed with)
CALL_KINDS: tuple[tuple[str, Callable[[], Scenario], str], ...] = (
    ("ai_fills_everything", examples.ai_fills_everything, "customer_satisfaction"),
    ("ai_invalid_keypad_completes", examples.ai_invalid_keypad_completes, "customer_satisfaction"),
    ("one_answer_breaks_schema", examples.one_answer_breaks_schema, "appointment_intake"),
    ("caller_hangs_up_midway", examples.caller_hangs_up_midway, "appointment_intake"),
)
Variant = tuple[str, str]  # (kind name, "incoming" | "outgoing")
VARIANTS: tuple[Variant, ...] = tuple((name, d) for d in ("incoming", "outgoing") for name, _f, _form in CALL_KINDS)


def snapshot(response: Response) -> dict[str, Any]:
    """What a user sees of a response, without ids and clock times (which differ from run to run); sensitive
    answers opened (each encryption of them differs)."""
    return {
        "direction": response.direction, "form_id": response.form_id, "status": response.status,
        "answers": sealing.open_answers(response.answers), "sources": response.sources, "ai_status": response.ai_status,
        "message_history": response.message_history, "hangup_cause": response.hangup_cause,
        "hangup_source": response.hangup_source, "failures": response.failures,
        "keypad": [(a["field"], a["n"], a["status"], a["digits"])
                   for a in sealing.open_attempts(response.keypad_attempts)],
    }


@dataclass
class PlacedCall:
    """One scripted call: its variant, Telnyx's call id and (outbound) the response the API created."""

    variant: Variant
    call_control_id: str
    response_id: str | None = None


_OUTBOUND_NUMBERS = itertools.count(8_880_001)


class CallDriver:
    """Places scripted calls on a fake Telnyx against an app at `app_url` (outbound ones through /api/calls)."""

    def __init__(self, fake: FakeTelnyx, app_url: str, api_lock: asyncio.Lock | None = None) -> None:
        self.fake = fake
        self.app_url = app_url
        self.api_lock = api_lock or asyncio.Lock()  # a crash test holds it while the server is down

    async def place(self, variant: Variant, timeout: float = 60.0) -> PlacedCall:
        """Start the call; return once Telnyx's call id is known (outbound: once the dial was accepted)."""
        name, direction = variant
        factory, form_id = next((f, form) for n, f, form in CALL_KINDS if n == name)
        base = factory()
        if direction == "incoming":
            return PlacedCall(variant, self.fake.start_call(base))
        to = f"+1555{next(_OUTBOUND_NUMBERS):07d}"  # unique: the fake picks the scenario by the number dialled
        self.fake.expect_dial(replace(base, direction="outgoing", from_number="+15550009999", to_number=to))
        async with self.api_lock, httpx.AsyncClient(base_url=self.app_url, trust_env=False, timeout=10) as client:
            created = await client.post("/api/calls", json={"to": to, "form": form_id},
                                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert created.status_code == 202, created.text
        deadline = time.monotonic() + timeout
        while True:
            dialled = [r for r in self.fake.accepted() if r.action == "dial" and r.body.get("to") == to]
            if dialled:
                return PlacedCall(variant, dialled[0].call_control_id or "", created.json()["response_id"])
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dial to {to} never reached the fake Telnyx")
            await asyncio.sleep(0.05)

    async def play(self, variant: Variant, timeout: float = 60.0) -> PlacedCall:
        """Place the call and wait until it has hung up and each of its webhooks was delivered or given up."""
        placed = await self.place(variant, timeout)
        await self.fake.wait_call_done(placed.call_control_id, timeout=timeout)
        return placed


@dataclass
class Expected:
    """The outcome of one variant on an uninterrupted stack: the response and the commands Telnyx acted on."""

    response: dict[str, Any]
    actions: list[str]


async def reference_outcomes(database_url: str, variants: Sequence[Variant] = VARIANTS) -> dict[Variant, Expected]:
    """Play each variant once on an in-process stack, undisturbed, and return what it produced."""
    async with running_stack(database_url, {"forms_dir": FORMS, "admin_token": ADMIN_TOKEN}) as stack:
        driver = CallDriver(stack.fake, stack.app_url)
        placed = await asyncio.gather(*(driver.play(v, timeout=30) for v in variants))
        await stack.settle()
        outcomes = {}
        for call in placed:
            response = await stack.response_for_call(call.call_control_id)
            assert response is not None, call
            outcomes[call.variant] = Expected(snapshot(response), [r.action for r in
                                                                   stack.fake.accepted(call.call_control_id)])
    return outcomes


def capture_app(bodies: list[bytes]) -> Quart:
    """Stands in for the app while the fake rings: acknowledges each webhook and keeps its body."""
    app = Quart(__name__)

    @app.post("/webhooks/telnyx")
    async def receive() -> tuple[str, int]:
        bodies.append(await request.get_data(as_text=False))
        return "", 200

    return app


# --- reading the database from the test process ---------------------------------------------------------------

@dataclass
class Stored:
    """Everything the app stored, read at once."""

    responses: list[Response]
    commands: list[Command]
    event_ids: set[str]

    def response_of(self, call: PlacedCall) -> Response:
        for response in self.responses:
            if response.call_control_id == call.call_control_id or (
                    call.response_id is not None and response.id == call.response_id):
                return response
        raise AssertionError(f"no response for {call}")


async def read_stored(database_url: str) -> Stored:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            responses = list((await session.scalars(select(Response))).all())
            commands = list((await session.scalars(select(Command).order_by(Command.id))).all())
            event_ids = set((await session.scalars(select(WebhookEvent.id))).all())
        return Stored(responses, commands, event_ids)
    finally:
        await engine.dispose()


async def wait_outbox_empty(database_url: str, timeout: float = 45.0) -> None:
    """Wait until no command is pending or being sent (polling: another process does the sending)."""
    engine = make_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            async with engine.connect() as connection:
                open_count = await connection.scalar(
                    select(func.count()).select_from(Command).where(Command.status.in_(("pending", "sending"))))
            if not open_count:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{open_count} command(s) still unsent after {timeout} s")
            await asyncio.sleep(0.25)
    finally:
        await engine.dispose()
