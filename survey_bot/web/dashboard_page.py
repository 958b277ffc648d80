"""How every dashboard page is rendered (the session's CSRF token, the nav's sign-in state, the security headers),
shared by the dashboard's routes and its nested blueprints (the campaign pages)."""

from __future__ import annotations

import secrets
from typing import Any

from quart import Response, current_app, g, render_template, session
from werkzeug.wrappers import Response as WerkzeugResponse

from survey_bot.vocabulary import OUTCOME_LABELS, SOURCE_LABELS, STATUSES

__all__ = ["Reply", "csrf_token", "page", "signed_in"]

Reply = Response | WerkzeugResponse  # redirect() builds the latter


def signed_in() -> bool:
    """Tell whether this request has an open session (the guard looked it up)."""
    return g.get("signed_in") is not None


def csrf_token() -> str:
    """This session's CSRF token, created on first use."""
    token: object = session.get("csrf")
    if not current_app.secret_key:  # no sessions at all (the 503 page): nothing to protect
        return ""
    if isinstance(token, str):
        return token
    fresh = session["csrf"] = secrets.token_urlsafe(32)
    return fresh


async def page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a dashboard page with what every page needs."""
    html = await render_template(template, csrf_token=csrf_token(), signed_in=signed_in(), statuses=STATUSES,
                                 outcome_labels=OUTCOME_LABELS, source_labels=SOURCE_LABELS, **context)
    response = Response(html, status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    return response
