"""`survey-bot serve`: check everything up front, then run the app under uvicorn (or Hypercorn)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn

from survey_bot.config import Settings
from survey_bot.logs import json_logs
from survey_bot.serving.asgi import APP_FACTORY
from survey_bot.serving.draining import DrainingServer
from survey_bot.serving.protocol import HEADER_BYTES, BoundedHttpToolsProtocol
from survey_bot.storage.engine import make_engine
from survey_bot.storage.migrate import ensure_at_head
from survey_bot.web.app import create_app

__all__ = ["DrainingServer", "serve"]

log = logging.getLogger(__name__)

CONNECTIONS_PER_WORKER = 1000  # beyond this, new requests get 503 at once rather than queueing without bound


def serve(*, host: str, port: int, workers: int, server: str) -> int:
    """Serve until interrupted; raise ConfigError/FormError/DatabaseNotReady before binding if misconfigured."""
    settings = Settings.load()
    create_app(settings=settings)  # refuses a missing key or a broken form with the reason
    asyncio.run(_check_database(settings.database_url))
    log.info("serving on http://%s:%d with %d worker(s) under %s", host, port, workers, server)
    if server == "hypercorn":
        return _hypercorn(host, port, workers)
    options: dict[str, Any] = {
        "factory": True, "host": host, "port": port, "workers": workers, "loop": "uvloop",
        "http": BoundedHttpToolsProtocol, "lifespan": "on", "access_log": False, "timeout_graceful_shutdown": 10,
        "timeout_keep_alive": 30, "limit_concurrency": CONNECTIONS_PER_WORKER,
        # X-Forwarded-For is read by survey-bot itself, from SURVEY_BOT_TRUSTED_PROXIES only (web/throttle.py):
        # uvicorn's default would believe it from any local peer.
        "proxy_headers": False,
    }
    if json_logs():  # uvicorn's own lines go through our handler too (its default config has its own format)
        options["log_config"] = None
    if workers > 1:  # uvicorn's worker processes build their own plain uvicorn.Server
        uvicorn.run(APP_FACTORY, **options)
        return 0
    single = DrainingServer(uvicorn.Config(APP_FACTORY, **options))
    single.run()
    return 0 if single.started else 3  # 3: uvicorn's exit code for a failed startup


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
    config.application_path = f"{APP_FACTORY}()"
    config.bind = [f"{host}:{port}"]
    # uvloop, as uvicorn gets; one worker serves in this process (hypercorn's workers=0) rather than in a
    # spawned child, as uvicorn does (bench/ingest.py compares them).
    config.worker_class = "uvloop"
    config.workers = 0 if workers == 1 else workers
    config.graceful_timeout = 10
    config.read_timeout = 30  # a connection silent this long is closed (bodies: intake's own limits)
    config.h11_max_incomplete_size = HEADER_BYTES
    if json_logs():  # Hypercorn's lines through our handler, not its own text format
        config.errorlog = logging.getLogger("hypercorn.error")
    return int(run(config) or 0)
