"""A command claimed by a dispatcher that is gone is sent again as soon as a live dispatcher can know it is gone,
not after a fixed lease: at once when the claimer's process ended on this host (a replacement child, another
worker, a restarted server), after its heartbeat has been silent for SILENCE when its host cannot be asked.
A claimer that lives keeps its claim. Real SDK against the fake Telnyx, both databases; time is injected."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from survey_bot.dispatch import liveness
from survey_bot.dispatch.sender import Dispatcher
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.storage import outbox
from survey_bot.storage.form_versions import form_version_id
from survey_bot.storage.models import Command, DispatcherProcess
from survey_bot.storage.records import new_record
from survey_bot.storage.responses import insert_responses
from survey_bot.telephony.envelope import encode_client_state
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"


class Clock:
    """An injected clock: real time, moved on by hand."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.offset


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, {"forms_dir": FORMS, "dispatch_commands": False}) as running:
        yield running


async def claimed_dial(stack: Stack, claimer: str, *, heartbeat: datetime, host: str, pid: int) -> str:
    """A dial that `claimer` (registered with that heartbeat) took and never reported back on; its command id."""
    app_state = state(stack.app)
    form = app_state.catalog.forms["customer_satisfaction"]
    now = utc_now()
    async with app_state.sessions() as session, session.begin():
        response = new_record(str(uuid.uuid4()), form.form_id, await form_version_id(session, form, now), "outgoing",
                              now, to_number="+15557654321")
        await insert_responses(session, [response])
        arguments = {"connection_id": stack.fake.connection_id, "from": "+15550009999", "to": "+15557654321",
                     "client_state": encode_client_state({"r": response.id})}
        rows = outbox.command_rows([outbox.Request("dial", "dial", arguments)], response_id=response.id,
                                   call_control_id=None, event_id=None, now=now)
        rows[0].update(status="sending", claimed_at=now, claimed_by=claimer, attempts=1)
        await outbox.enqueue(session, rows)
        if await session.get(DispatcherProcess, claimer) is None:
            session.add(DispatcherProcess(id=claimer, host=host, pid=pid, started_at=heartbeat, heartbeat_at=heartbeat))
    return str(rows[0]["command_id"])


async def status_of(stack: Stack, command_id: str) -> str:
    async with state(stack.app).sessions() as session:
        return str(await session.scalar(select(Command.status).where(Command.command_id == command_id)))


def dispatcher(stack: Stack, clock: Clock) -> Dispatcher:
    app_state = state(stack.app)
    return Dispatcher(app_state.sessions, app_state.client, app_state.catalog, clock=clock)


def ended_process() -> tuple[str, int]:
    """The dispatcher id a process of this host had, and its pid, once that process has ended."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        identity_of_child = liveness.this_process().id.rsplit("/", 2)[0] + f"/{child.pid}/"
        start = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    finally:
        child.kill()
        child.wait()
    return identity_of_child + start, child.pid


async def test_a_claim_of_a_process_that_ended_on_this_host_is_sent_on_the_first_pass(stack: Stack) -> None:
    clock = Clock()
    claimer, pid = ended_process()
    host = liveness.this_process().host
    command_id = await claimed_dial(stack, claimer, heartbeat=clock(), host=host, pid=pid)  # its heart beat just now
    replacement = dispatcher(stack, clock)
    try:
        assert await replacement.run_once() == 1  # the first pass, right after it starts: no lease to wait out
    finally:
        await replacement.stop()
    assert await status_of(stack, command_id) == "sent"
    assert [r.command_id for r in stack.fake.requests] == [command_id]


async def test_a_live_claimer_keeps_its_claim_until_it_ends(stack: Stack) -> None:
    clock = Clock()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        claimer = liveness.this_process().id.rsplit("/", 2)[0] + f"/{child.pid}/{start}"
        host = liveness.this_process().host
        command_id = await claimed_dial(stack, claimer, heartbeat=clock(), host=host, pid=child.pid)
        other = dispatcher(stack, clock)
        try:
            assert await other.run_once() == 0  # the claimer is alive here: its claim stands
            assert await status_of(stack, command_id) == "sending"
            child.kill()
            child.wait()
            await other.presence.beat()  # the next heartbeat sees the process gone
            assert await other.run_once() == 1
        finally:
            await other.stop()
    finally:
        child.kill()
        child.wait()
    assert await status_of(stack, command_id) == "sent"


async def test_a_claim_whose_host_cannot_be_asked_expires_with_its_heartbeat(stack: Stack) -> None:
    clock = Clock()
    command_id = await claimed_dial(stack, "elsewhere/0000/4242/1", heartbeat=clock(), host="elsewhere", pid=4242)
    other = dispatcher(stack, clock)
    try:
        assert await other.run_once() == 0  # beating a moment ago: alive as far as anyone here can tell
        clock.offset = liveness.SILENCE + timedelta(seconds=1)
        await other.presence.beat()  # as the background heartbeat does every HEARTBEAT
        assert await other.run_once() == 1
    finally:
        await other.stop()
    assert await status_of(stack, command_id) == "sent"
    assert liveness.SILENCE + liveness.HEARTBEAT + timedelta(seconds=1) <= timedelta(seconds=10)  # the bound


async def test_a_dispatcher_that_stops_leaves_and_what_it_held_is_due_at_once(stack: Stack) -> None:
    clock = Clock()
    leaving = dispatcher(stack, clock)
    assert await leaving.run_once() == 0  # its first pass registers it
    me = leaving.presence.identity
    command_id = await claimed_dial(stack, me.id, heartbeat=clock(), host=me.host, pid=me.pid)
    async with state(stack.app).sessions() as session:  # (claimed_dial registered it again: keep one row)
        rows = (await session.scalars(select(DispatcherProcess.id))).all()
    assert list(rows) == [me.id]
    await leaving.stop()
    async with state(stack.app).sessions() as session:
        assert await session.get(DispatcherProcess, me.id) is None
    successor = dispatcher(stack, clock)  # another process's dispatcher (a restarted server)
    successor.presence.identity = liveness.Identity(f"{me.host}/successor", me.host, me.pid)
    try:
        assert await successor.run_once() == 1
    finally:
        await successor.stop()
    assert await status_of(stack, command_id) == "sent"
