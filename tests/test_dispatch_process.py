"""The outbox sender in a child process (`SURVEY_BOT_DISPATCHER=process`, what `survey-bot serve` does by
default), with real processes: `survey-bot serve` in a subprocess against the fake Telnyx.

- the commands of a call go out from the child (frozen with SIGSTOP, nothing reaches Telnyx; thawed, the call
  ends exactly as an undisturbed one);
- a child killed with kill -9 is reported and replaced, and calls go on, no command acted on twice;
- a web process killed with kill -9 does not leave its child behind: the child sees end-of-file and exits;
- SIGTERM to the whole process group (Ctrl-C, a service manager) stops both, and no child is reported dead;
- `SURVEY_BOT_DISPATCHER=inline` starts no child, and a value that is no mode is refused with exit code 2.

The children of the server are found through /proc/*/stat (their parent pid), since /proc/<pid>/task/*/children
is not available on every kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from server_process import (
    FORMS,
    CallDriver,
    Expected,
    PlacedCall,
    ServerProcess,
    read_stored,
    reference_outcomes,
    running_server,
    server_env,
    snapshot,
    wait_outbox_empty,
)

from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import FakeTelnyx

CHILD_MODULE = "survey_bot.dispatch.child"
Variant = tuple[str, str]
INBOUND: Variant = ("ai_invalid_keypad_completes", "incoming")
OUTBOUND: Variant = ("ai_fills_everything", "outgoing")


# --- processes, as /proc shows them ----------------------------------------------------------------------

def _stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ", comm may hold spaces
    return fields[0], int(fields[1])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def dispatcher_children(parent: int) -> list[int]:
    """The live (not zombie) children of `parent` that run the dispatcher module."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is not None and stat[1] == parent and stat[0] != "Z" and CHILD_MODULE in _cmdline(int(entry.name)):
            found.append(int(entry.name))
    return found


def state_of(pid: int) -> str | None:
    """The process's state letter (R, S, T for stopped, Z for zombie...), None once it is gone."""
    stat = _stat(pid)
    return stat[0] if stat is not None else None


def gone_or_zombie(pid: int) -> bool:
    return state_of(pid) in (None, "Z")


async def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Poll `predicate` until true; return the seconds it took (fail with `what` after `timeout`)."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what} (waited {timeout} s)")
        await asyncio.sleep(0.05)
    return time.monotonic() - began


async def only_dispatcher_child(server: ServerProcess, timeout: float = 10.0) -> int:
    """The server's one dispatcher child (waiting for it to appear); fail if there are two."""
    assert server.process is not None
    pid = server.process.pid
    await wait_until(lambda: dispatcher_children(pid), timeout, f"no dispatcher child of {pid}:\n{server.log_tail()}")
    children = dispatcher_children(pid)
    assert len(children) == 1, (children, server.log_tail())
    return children[0]


@contextlib.asynccontextmanager
async def server_on_fake(database_url: str, log_path: Path,
                         extra: dict[str, str] | None = None) -> AsyncIterator[tuple[FakeTelnyx, ServerProcess]]:
    """A fake Telnyx, and `survey-bot serve` (one web process) talking to it; webhooks go to the server."""
    fake = FakeTelnyx()
    async with serve_asgi(fake.app) as telnyx_url:
        env = server_env(database_url=database_url, telnyx_url=telnyx_url, public_key=fake.signer.public_key_b64,
                         connection_id=fake.connection_id, extra=extra)
        async with running_server(env, log_path) as server:
            fake.webhook_url = f"{server.url}/webhooks/telnyx"
            yield fake, server


async def assert_as_reference(database_url: str, fake: FakeTelnyx, calls: list[PlacedCall],
                              expected: dict[Variant, Expected], server: ServerProcess) -> None:
    """Each call's response and the commands Telnyx acted on equal the undisturbed run's."""
    await wait_outbox_empty(database_url, timeout=20)
    stored = await read_stored(database_url)
    for call in calls:
        assert snapshot(stored.response_of(call)) == expected[call.variant].response, (call, server.log_tail())
        assert [r.action for r in fake.accepted(call.call_control_id)] == expected[call.variant].actions, call


# --- the tests ---------------------------------------------------------------------------------------------

@pytest.mark.slow
async def test_serve_sends_commands_from_its_dispatcher_child(database_url: str, backend: str,
                                                              tmp_path: Path) -> None:
    began = time.monotonic()
    expected = await reference_outcomes(database_url, [INBOUND])
    async with server_on_fake(database_url, tmp_path / "server.log") as (fake, server):
        assert server.process is not None
        child = await only_dispatcher_child(server)
        assert CHILD_MODULE in _cmdline(child) and "--wake-fd" in _cmdline(child)

        # Freeze the child: the web process still takes the call's first webhook and stores the command it
        # makes, but nothing reaches Telnyx -- the web process does not send commands itself.
        os.kill(child, signal.SIGSTOP)
        try:
            await wait_until(lambda: state_of(child) == "T", 5, "the child did not stop")
            driver = CallDriver(fake, server.url)
            call = await driver.place(INBOUND)
            await wait_until(lambda: any(d.delivered for d in fake.deliveries), 5, "call.initiated not acknowledged")
            await asyncio.sleep(1.5)  # more than the in-process dispatcher's 1 s poll
            waiting = [c for c in (await read_stored(database_url)).commands if c.status == "pending"]
            assert fake.requests == [], "a command reached Telnyx while the dispatcher child was stopped"
            assert [c.action for c in waiting] == ["answer"], waiting
        finally:
            os.kill(child, signal.SIGCONT)

        # Thawed, the child sends what waited, and the call plays to its end as an undisturbed one.
        await fake.wait_call_done(call.call_control_id, timeout=20)
        await assert_as_reference(database_url, fake, [call], expected, server)
        assert dispatcher_children(server.process.pid) == [child]
        assert "exited with" not in server.log_path.read_text()
    print(f"\n[dispatch_process/{backend}] child {child} sent every command; {time.monotonic() - began:.1f} s")


@pytest.mark.slow
async def test_a_killed_dispatcher_child_is_replaced(database_url: str, backend: str, tmp_path: Path) -> None:
    began = time.monotonic()
    expected = await reference_outcomes(database_url, [INBOUND, OUTBOUND])
    async with server_on_fake(database_url, tmp_path / "server.log") as (fake, server):
        assert server.process is not None
        server_pid = server.process.pid
        driver = CallDriver(fake, server.url)
        calls = [await driver.play(INBOUND, timeout=20)]
        await wait_outbox_empty(database_url, timeout=20)
        first = await only_dispatcher_child(server)

        os.kill(first, signal.SIGKILL)
        # Calls placed at once: their commands are committed while no child runs (the replacement comes
        # after RESTART_DELAY) and must go out from the new one.
        placing = [asyncio.create_task(driver.play(v, timeout=20)) for v in (OUTBOUND, INBOUND)]
        replaced_in = await wait_until(
            lambda: [p for p in dispatcher_children(server_pid) if p != first],
            5, f"the killed dispatcher child was not replaced:\n{server.log_tail()}")
        second = await only_dispatcher_child(server)
        assert second != first and gone_or_zombie(first)
        calls += await asyncio.gather(*placing)

        await assert_as_reference(database_url, fake, calls, expected, server)
        log = server.log_path.read_text()
        reported = [line for line in log.splitlines() if f"dispatcher process {first} exited with -9" in line]
        assert len(reported) == 1 and " ERROR " in reported[0], log
        assert log.count("exited with") == 1, log
        assert server.running

    # No command_id was acted on twice (a command the dead child had sent must not be sent again as new).
    acted = Counter(r.command_id for r in fake.accepted())
    assert acted and max(acted.values()) == 1, acted.most_common(3)
    assert None not in acted
    print(f"\n[dispatch_process/{backend}] child {first} killed, {second} running {replaced_in:.1f} s later; "
          f"{len(fake.requests)} command requests; {time.monotonic() - began:.1f} s")


@pytest.mark.slow
async def test_the_dispatcher_child_exits_when_its_web_process_is_killed(database_url: str, backend: str,
                                                                           tmp_path: Path) -> None:
    async with server_on_fake(database_url, tmp_path / "server.log") as (fake, server):
        assert server.process is not None
        server_pid = server.process.pid
        try:
            # A call first, so the child holds connections (to the database and to Telnyx) when it is orphaned.
            await CallDriver(fake, server.url).play(INBOUND, timeout=20)
            child = await only_dispatcher_child(server)

            os.kill(server_pid, signal.SIGKILL)  # the web process only, not its process group
            server.process.wait(timeout=10)
            exited_in = await wait_until(lambda: gone_or_zombie(child), 10,
                                         f"dispatcher child {child} outlived its web process:\n{server.log_tail()}")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server_pid, signal.SIGKILL)  # whatever is left of the server's session
    print(f"\n[dispatch_process/{backend}] orphaned child {child} exited {exited_in:.2f} s after the kill")


@pytest.mark.slow
async def test_a_signal_to_the_whole_group_stops_both_without_a_replacement(database_url: str, tmp_path: Path) -> None:
    """Ctrl-C or a service manager signals every process of the group: the child must not die first (its web
    process would report a crash and start another one mid-shutdown); it ends when its web process does."""
    async with server_on_fake(database_url, tmp_path / "server.log") as (fake, server):
        assert server.process is not None
        server_pid = server.process.pid
        await CallDriver(fake, server.url).play(INBOUND, timeout=20)
        child = await only_dispatcher_child(server)
        # A webhook still arriving keeps the web process in its graceful shutdown for a while, as under load.
        _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /webhooks/telnyx HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        try:
            await asyncio.sleep(0.2)
            os.killpg(server_pid, signal.SIGTERM)
            await asyncio.sleep(2.0)  # a child that had died of the signal would have been reported by now
            assert not gone_or_zombie(child), f"the child died before its web process:\n{server.log_tail()}"
            writer.close()
            await wait_until(lambda: server.process is not None and server.process.poll() is not None, 20,
                             f"server did not stop on SIGTERM:\n{server.log_tail()}")
            await wait_until(lambda: gone_or_zombie(child), 15, f"child {child} outlived its web process")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server_pid, signal.SIGKILL)
        log = server.log_tail(200)
    assert server.process.returncode in (0, -15), log
    assert "Application shutdown complete" in log
    assert "exited with" not in log and "could not start a dispatcher" not in log, log


@pytest.mark.slow
async def test_inline_dispatcher_starts_no_child(database_url: str, tmp_path: Path) -> None:
    expected = await reference_outcomes(database_url, [INBOUND])
    async with server_on_fake(database_url, tmp_path / "server.log", {"SURVEY_BOT_DISPATCHER": "inline"}) as (
            fake, server):
        assert server.process is not None
        assert dispatcher_children(server.process.pid) == []  # the child would be started before serving
        call = await CallDriver(fake, server.url).play(INBOUND, timeout=20)
        await assert_as_reference(database_url, fake, [call], expected, server)
        assert dispatcher_children(server.process.pid) == []


def test_serve_refuses_an_unknown_dispatcher_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SURVEY_BOT_", "TELNYX_")) or k == "SURVEY_BOT_DATA_KEY"}  # (the tests' key)
    env.update({"SURVEY_BOT_DISPATCHER": "threads", "SURVEY_BOT_FORMS_DIR": str(FORMS),
                "TELNYX_PUBLIC_KEY": "fW2MMwE3a2n0Zc8Hq5lX0bC3PcVTHYpRKo3i4y7hY1M=",
                "SURVEY_BOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"})
    result = subprocess.run([sys.executable, "-m", "survey_bot", "serve", "--port", "0"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "SURVEY_BOT_DISPATCHER='threads'" in result.stderr and "process or inline" in result.stderr, result.stderr
