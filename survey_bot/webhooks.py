"""POST /webhooks/telnyx: raw body -> verify the signature -> parse -> process and commit once -> 2xx.

Nothing here waits on Telnyx: commands go to the outbox and the dispatcher sends them after the answer.
"""

from __future__ import annotations

import logging

from quart import Blueprint, Response, current_app, jsonify, request

from .errors import PayloadError, SignatureError
from .events import parse_event
from .extension import state

__all__ = ["blueprint"]

log = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__)


@blueprint.post("/webhooks/telnyx")
async def telnyx_webhook() -> tuple[Response, int]:
    """Receive one Telnyx webhook."""
    app_state = state(current_app)
    if app_state.settings.insecure_skip_verify:
        log.warning("webhook accepted WITHOUT signature verification (--insecure-skip-verify)")
    body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    assert isinstance(body, bytes)
    try:
        text = app_state.verify(body, dict(request.headers))
        event = parse_event(text)
    except SignatureError as exc:
        return jsonify(error="invalid_signature", detail=str(exc)), 401
    except PayloadError as exc:
        return jsonify(error="invalid_payload", detail=str(exc)), 400
    outcome = await app_state.intake.submit(event)
    return jsonify(event_id=event.id, result=outcome.state, commands=outcome.commands), 200
