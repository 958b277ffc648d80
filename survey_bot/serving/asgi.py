"""The ASGI factory the servers import by name: every web process (each of uvicorn's or Hypercorn's workers, or
the single serving process) builds its app here, then tunes its garbage collector (serving.gc_tuning)."""

from __future__ import annotations

from quart import Quart

from survey_bot.logs import configure_logging
from survey_bot.serving.gc_tuning import tune_gc
from survey_bot.web.app import create_app

__all__ = ["APP_FACTORY", "app_factory"]

APP_FACTORY = "survey_bot.serving.asgi:app_factory"


def app_factory() -> Quart:
    """Build the app from the environment, then tune this process's garbage collector."""
    configure_logging()  # a worker uvicorn spawned starts with no logging set up (the serving process has it)
    app = create_app()
    tune_gc()
    return app
