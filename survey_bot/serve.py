"""`survey-bot serve`: check everything up front, then run the app under uvicorn (or Hypercorn)."""

from __future__ import annotations

import asyncio
import logging

from .app import create_app
from .config import Settings
from .db import make_engine
from .migrate import ensure_at_head

__all__ = ["serve"]

log = logging.getLogger(__name__)


def serve(*, host: str, port: int, workers: int, server: str) -> int:
    """Serve until interrupted; raise ConfigError/FormError/DatabaseNotReady before binding if misconfigured."""
    settings = Settings.load()
    create_app(settings=settings)  # refuses a missing key or a broken form with the reason
    asyncio.run(_check_database(settings.database_url))
    log.info("serving on http://%s:%d with %d worker(s) under %s", host, port, workers, server)
    if server == "hypercorn":
        return _hypercorn(host, port, workers)
    import uvicorn

    uvicorn.run(
        "survey_bot.asgi:app_factory", factory=True, host=host, port=port, workers=workers,
        loop="uvloop", http="httptools", lifespan="on", access_log=False,
        timeout_graceful_shutdown=10, timeout_keep_alive=30,
    )
    return 0


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
    config.application_path = "survey_bot.asgi:app_factory()"
    config.bind = [f"{host}:{port}"]
    config.workers = workers
    config.graceful_timeout = 10
    return int(run(config) or 0)
