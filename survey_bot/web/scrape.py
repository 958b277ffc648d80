"""GET /metrics: Prometheus's scrape, behind SURVEY_BOT_METRICS_TOKEN (a bearer token) when that is set.

Open when the token is unset, as scrape targets usually are on a private network; set it when /metrics is
reachable from where it should not be. It is not part of /api (and not in its OpenAPI document): a scraper
holds this token, never the admin one. What it shows: observe.metrics (counted by every process of this
server) and reports.store_figures (read from the database for each scrape).
"""

from __future__ import annotations

import logging

from quart import Blueprint, Response, current_app, jsonify, request

from survey_bot.observe.exposition import StoreFigures, render
from survey_bot.reports.store_figures import store_figures
from survey_bot.utc import now as utc_now
from survey_bot.web.auth import token_matches
from survey_bot.web.state import state

__all__ = ["blueprint"]

log = logging.getLogger(__name__)
blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
async def metrics() -> Response | tuple[Response, int]:
    """The exposition: every process's counters plus the store's figures now."""
    app_state = state(current_app)
    configured = app_state.settings.metrics_token
    if configured:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token_matches(configured, presented.strip()):
            response = jsonify(error="unauthorized", detail="send Authorization: Bearer <SURVEY_BOT_METRICS_TOKEN>")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response, 401
    figures: StoreFigures | None
    try:
        async with app_state.sessions() as session:
            figures = await store_figures(session, utc_now())
    except Exception:  # the counters are still worth serving; survey_bot_database_up says the rest is missing
        log.warning("metrics: the database could not be read", exc_info=True)
        figures = None
    body, content_type = render(figures, request.headers.get("Accept"))
    return Response(body, content_type=content_type)
