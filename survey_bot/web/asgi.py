"""ASGI entry point for servers that import the app by name (uvicorn/hypercorn workers)."""

from __future__ import annotations

from quart import Quart

from survey_bot.web.app import create_app

__all__ = ["app_factory"]


def app_factory() -> Quart:
    """Build the app from the environment."""
    return create_app()
