"""The outbox sender in a process of its own, beside a web process (`SURVEY_BOT_DISPATCHER=process`).

Why: the web process runs on one core (one Python thread at a time), and sending a command through the SDK
costs about a millisecond of CPU, a quarter of that core under a webhook flood (bench/ingest.py). In its own
process the sender uses another core, and the webhooks' acknowledgements never wait behind it.

The web process starts the child with the read end of a pipe: a byte on it means "new commands were
committed, look now" (the child also polls, as the in-process dispatcher does), and end-of-file means the web
process is gone, even after a kill -9: the child then stops sending and exits. The child ignores SIGINT and
SIGTERM: a Ctrl-C or a service manager signals the whole process group, and the child must outlive the web
process's graceful shutdown (whose last webhooks may still make commands), not die mid-way and be replaced.
The child reads the same environment (the settings) as its parent. If it dies, the parent starts another
one, waiting longer each time one dies young.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time

from survey_bot.config import Settings
from survey_bot.dispatch.sender import Dispatcher
from survey_bot.logs import configure_logging
from survey_bot.runtime import Runtime

__all__ = ["DispatchProcess", "main"]

log = logging.getLogger(__name__)
RESTART_DELAY = 1.0  # seconds before a child that died is replaced; doubled each time the next one dies young
MAX_RESTART_DELAY = 30.0
YOUNG = 10.0  # seconds: a child that dies sooner probably cannot start (bad settings, a broken install)
STOP_GRACE = 10.0  # seconds a stopping child gets to finish its in-flight sends


class DispatchProcess:
    """The web process's handle on its sender child: start it, wake it, replace it if it dies, stop it."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._wake_fd: int | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        """The child's process id (None before start)."""
        return self._process.pid if self._process else None

    async def start(self) -> None:
        """Start the child and watch over it."""
        self._spawn()
        self._watch = asyncio.create_task(self._keep_running(), name="survey-bot-dispatch-process")

    def wake(self) -> None:
        """New commands were committed: tell the child (a full pipe already says so)."""
        if self._wake_fd is None:
            return
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self._wake_fd, b"!")

    async def stop(self) -> None:
        """Ask the child to finish (end-of-file on its pipe), wait for it, kill it if it lingers."""
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch  # (it never raises: see _keep_running)
        self._close_pipe()
        process = self._process
        if process is None:
            return
        try:
            await asyncio.to_thread(process.wait, STOP_GRACE)
        except subprocess.TimeoutExpired:
            log.warning("dispatcher process %d did not stop in %ss; killing it", process.pid, STOP_GRACE)
            process.kill()
            await asyncio.to_thread(process.wait)

    def _spawn(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, by this very interpreter
                [sys.executable, "-m", "survey_bot.dispatch.child", "--wake-fd", str(read_fd)],
                pass_fds=(read_fd,), stdin=subprocess.DEVNULL,
            )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        self._wake_fd = write_fd
        log.info("dispatcher process %d started", self._process.pid)

    def _close_pipe(self) -> None:
        if self._wake_fd is not None:
            os.close(self._wake_fd)
            self._wake_fd = None

    async def _keep_running(self) -> None:
        delay = 0.0  # 0: the last child lived long (or none died yet)
        while not self._stopping:
            process = self._process
            started = time.monotonic()
            if process is not None:
                code = await asyncio.to_thread(process.wait)
                if self._stopping:
                    return
                young = time.monotonic() - started < YOUNG
                delay = min(delay * 2, MAX_RESTART_DELAY) if young and delay else RESTART_DELAY
                log.error("dispatcher process %d exited with %s; starting another in %ss", process.pid, code, delay)
                self._process = None
                self._close_pipe()
            await asyncio.sleep(delay)
            try:
                self._spawn()
            except OSError:  # no process could be made now (limits, memory): try again later
                delay = min(max(delay, RESTART_DELAY) * 2, MAX_RESTART_DELAY)
                log.exception("could not start a dispatcher process; trying again in %ss", delay)


async def _serve(wake_fd: int) -> None:
    runtime = Runtime.build(Settings.load())
    dispatcher = Dispatcher(runtime.sessions, runtime.client, runtime.catalog)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def on_wake() -> None:
        try:
            data = os.read(wake_fd, 4096)
        except BlockingIOError:
            return
        if data:
            dispatcher.wake()
        else:  # the web process is gone (stopped or killed)
            loop.remove_reader(wake_fd)
            done.set()

    os.set_blocking(wake_fd, False)
    loop.add_reader(wake_fd, on_wake)
    for signum in (signal.SIGTERM, signal.SIGINT):  # the web process decides when we stop (see the module doc)
        signal.signal(signum, signal.SIG_IGN)
    dispatcher.start()
    dispatcher.wake()  # send what is already due
    try:
        await done.wait()
    finally:
        await dispatcher.stop()
        await runtime.close()


def main(argv: list[str] | None = None) -> int:
    """Run the sender until the web process that started it goes away."""
    parser = argparse.ArgumentParser(prog="survey_bot.dispatch_process")
    parser.add_argument("--wake-fd", type=int, required=True)
    args = parser.parse_args(argv)
    configure_logging("dispatcher")
    import uvloop

    uvloop.run(_serve(args.wake_fd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
