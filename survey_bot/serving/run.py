"""`survey-bot serve`: check everything up front, then run the app under uvicorn (or Hypercorn)."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import uvicorn

from survey_bot.config import Settings
from survey_bot.serving.draining import DrainingServer
from survey_bot.storage.engine import make_engine
from survey_bot.storage.migrate import ensure_at_head
from survey_bot.web.app import create_app

__all__ = ["DrainingServer", "serve"]

log = logging.getLogger(__name__)
# Collect young objects every 20,000 allocations instead of 700: a webhook allocates a few thousand objects
# (headers, JSON, SQL parameters) that reference counting frees, and at the default the cyclic collector ran
# several times a request, 11% of the server's CPU under load (bench/ingest.py).
GC_THRESHOLDS = (20_000, 20, 50)


def serve(*, host: str, port: int, workers: int, server: str) -> int:
    """Serve until interrupted; raise ConfigError/FormError/DatabaseNotReady before binding if misconfigured."""
    settings = Settings.load()
    create_app(settings=settings)  # refuses a missing key or a broken form with the reason
    asyncio.run(_check_database(settings.database_url))
    log.info("serving on http://%s:%d with %d worker(s) under %s", host, port, workers, server)
    _tune_gc()
    if server == "hypercorn":
        return _hypercorn(host, port, workers)
    options: dict[str, Any] = {
        "factory": True, "host": host, "port": port, "workers": workers, "loop": "uvloop", "http": "httptools",
        "lifespan": "on", "access_log": False, "timeout_graceful_shutdown": 10, "timeout_keep_alive": 30,
    }
    if workers > 1:  # uvicorn's worker processes build their own plain uvicorn.Server
        uvicorn.run("survey_bot.web.asgi:app_factory", **options)
        return 0
    single = DrainingServer(uvicorn.Config("survey_bot.web.asgi:app_factory", **options))
    single.run()
    return 0 if single.started else 3  # 3: uvicorn's exit code for a failed startup


def _tune_gc() -> None:
    """Collect less often, and never rescan what startup built (modules, forms): it lives as long as we do.

    Applies to this process, which serves when there is one worker (worker processes are spawned afresh).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _check_database(url: str) -> None:
    engine = make_engine(url)
    try:
        await ensure_at_head(engine, url)
    finally:
        await engine.dispose()


def _hypercorn(host: str, port: int, workers: int) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.application_path = "survey_bot.web.asgi:app_factory()"
    config.bind = [f"{host}:{port}"]
    # uvloop, as uvicorn gets; one worker serves in this process (hypercorn's workers=0) rather than in a
    # spawned child, like uvicorn does, so it shares this process's GC settings (bench/ingest.py compares them).
    config.worker_class = "uvloop"
    config.workers = 0 if workers == 1 else workers
    config.graceful_timeout = 10
    return int(run(config) or 0)
