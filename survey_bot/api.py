"""/api routes, behind the admin bearer token."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from .auth import token_matches
from .dispatcher import Dispatcher
from .errors import ConfigError
from .extension import state
from .outbound import CallRequestError, start_outbound_call

__all__ = ["blueprint"]

blueprint = Blueprint("api", __name__, url_prefix="/api")


@blueprint.before_request
async def require_token() -> tuple[Response, int] | None:
    """503 until SURVEY_BOT_ADMIN_TOKEN is set; 401 unless the bearer token matches it."""
    configured = state(current_app).settings.admin_token
    if not configured:
        return jsonify(error="api_disabled", detail="SURVEY_BOT_ADMIN_TOKEN is not set on the server"), 503
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not token_matches(configured, presented.strip()):
        response = jsonify(error="unauthorized", detail="send Authorization: Bearer <SURVEY_BOT_ADMIN_TOKEN>")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, 401
    return None


@blueprint.post("/calls")
async def create_call() -> tuple[Response, int]:
    """Place an outbound survey call: {"to": "+1...", "form": "<form_id>"}."""
    body: Any = await request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("to"), str) or not isinstance(body.get("form"), str):
        return jsonify(error="invalid_request", detail='body must be {"to": "+1...", "form": "<form_id>"}'), 400
    app_state = state(current_app)
    try:
        async with app_state.sessions() as session, session.begin():
            response = await start_outbound_call(session, app_state.catalog, app_state.settings,
                                                 body["to"], body["form"])
    except CallRequestError as exc:
        return jsonify(error="invalid_request", detail=str(exc)), 400
    except ConfigError as exc:
        return jsonify(error="not_configured", detail=str(exc)), 503
    dispatcher: Dispatcher = app_state.dispatcher
    dispatcher.wake()
    return jsonify(response_id=response.id, status=response.status, to=response.to_number,
                   form=response.form_id), 202
