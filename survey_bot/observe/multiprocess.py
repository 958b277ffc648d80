"""Where every process of one `survey-bot serve` keeps its metric values, so a scrape of any worker adds them all.

prometheus_client chooses between in-memory values and per-process files once, when it is imported, from
PROMETHEUS_MULTIPROC_DIR. So `serve` calls `prepare()` before anything imports it: the web workers uvicorn
spawns and the dispatcher children they start inherit the variable. Without `serve` (the demo, the tests, an
app built in-process) the variable is unset and the values stay in memory, which is right for one process.

Files are named `<kind>_<pid>.db`. A worker or dispatcher child that dies while the server runs keeps its
files: its counts still happened, and a total that fell back would read as a counter reset. Files of processes
gone before this server started (a directory the operator keeps) are removed by `prepare()`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path

__all__ = ["ENV", "metrics_directory", "multiprocess_mode", "remove_dead"]

log = logging.getLogger(__name__)
ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    """Tell whether this process keeps its metric values in PROMETHEUS_MULTIPROC_DIR's files."""
    return bool(os.environ.get(ENV))


@contextlib.contextmanager
def metrics_directory(environ: MutableMapping[str, str] | None = None) -> Iterator[Path]:
    """Set PROMETHEUS_MULTIPROC_DIR for this process and the ones it starts, for the duration of the block.

    An operator's own directory is kept (and cleaned of dead processes' files); otherwise a private temporary
    directory is made and removed afterwards.
    """
    environ = os.environ if environ is None else environ
    if "prometheus_client" in sys.modules and ENV not in os.environ:
        log.warning("prometheus_client was imported before %s was set: this process's metrics stay in memory, "
                    "and /metrics may miss the other processes' counts", ENV)
    given = environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        remove_dead(path)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="survey-bot-metrics-"))
    environ[ENV] = str(path)
    try:
        yield path
    finally:
        environ.pop(ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def remove_dead(path: Path) -> list[Path]:
    """Remove the files of processes no longer running; return them."""
    removed = []
    for file in path.glob("*.db"):
        pid = _pid_of(file)
        if pid is not None and not _alive(pid):
            file.unlink(missing_ok=True)
            removed.append(file)
    return removed


def _pid_of(file: Path) -> int | None:
    tail = file.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive
        return True
    return True
