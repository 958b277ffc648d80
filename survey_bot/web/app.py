"""create_app(overrides): settings, forms, database, Telnyx client, intake and dispatcher, blueprints, errors.

Everything that can be checked before serving is checked here, so a misconfigured server refuses to
start and says why: a missing TELNYX_PUBLIC_KEY, a broken form, a database not at the migrations' head.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from quart import Quart, Response, jsonify
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from survey_bot.config import DISPATCHER_MODES, Settings
from survey_bot.dispatch.child import DispatchProcess
from survey_bot.dispatch.sender import Dispatcher
from survey_bot.errors import ConfigError
from survey_bot.intake.endpoint import WebhookEndpoint
from survey_bot.intake.watchdog import Watchdog
from survey_bot.intake.writer import Intake
from survey_bot.jobs.retention import RetentionJob
from survey_bot.jobs.scheduler import Scheduler
from survey_bot.jobs.webhooks import WebhookJob
from survey_bot.reports.webhook_body import renderer
from survey_bot.runtime import Runtime
from survey_bot.storage.form_versions import form_version_id
from survey_bot.web import api, dashboard, openapi, webhooks_api
from survey_bot.web.scrape import blueprint as metrics_blueprint
from survey_bot.web.sessions import load_secret_key
from survey_bot.web.state import KEY, AppState, state
from survey_bot.web.throttle import parse_trusted
from survey_bot.web.uploads import upload_request_class

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(overrides: Mapping[str, Any] | None = None, settings: Settings | None = None) -> Quart:
    """Build the app; raise ConfigError or FormError (with every problem) if it cannot run."""
    settings = settings or Settings.load(overrides)
    if not settings.telnyx_public_key and not settings.insecure_skip_verify:
        raise ConfigError(
            "TELNYX_PUBLIC_KEY is not set: survey-bot will not accept unsigned webhooks. Set it to the "
            "base64 Ed25519 public key from the Telnyx portal (or pass --insecure-skip-verify for a local test)"
        )
    check_door(settings)
    if settings.dispatcher not in DISPATCHER_MODES:
        modes = " or ".join(DISPATCHER_MODES)
        raise ConfigError(f"SURVEY_BOT_DISPATCHER={settings.dispatcher!r} is not a dispatcher mode: use {modes}")
    runtime = Runtime.build(settings)
    app = Quart(__name__)
    app.request_class = upload_request_class(settings.max_upload_bytes)  # (web.uploads: from the first byte)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, BODY_TIMEOUT=settings.body_timeout,
                      RESPONSE_TIMEOUT=30)
    dispatcher = Dispatcher(runtime.sessions, runtime.client, runtime.catalog)
    intake = Intake(runtime.sessions, runtime.catalog)
    app_state = AppState(runtime, intake, dispatcher)
    intake.on_commit = app_state.wake_dispatcher
    app.extensions[KEY] = app_state
    app.register_blueprint(api.blueprint)
    app.register_blueprint(webhooks_api.blueprint)  # /api/webhooks, behind the same token
    app.register_blueprint(metrics_blueprint)  # GET /metrics
    openapi.init_openapi(app)
    dashboard.init_app(app)
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.register_error_handler(HTTPException, http_error)
    app.before_serving(startup)
    app.after_serving(shutdown)
    # The webhook route is intake's plain ASGI handler in front of Quart (see intake/endpoint.py for why);
    # every other request reaches Quart's own ASGI app through it.
    app.asgi_app = WebhookEndpoint(  # type: ignore[method-assign]
        app.asgi_app, verify=app_state.verify, submit=intake.submit, max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout, insecure=settings.insecure_skip_verify)
    return app


MIN_TOKEN_LENGTH = 16


def check_door(settings: Settings) -> None:
    """Refuse settings that would leave the door weak or every webhook refused, saying why."""
    if settings.admin_token and len(settings.admin_token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"SURVEY_BOT_ADMIN_TOKEN is {len(settings.admin_token)} characters: use at least {MIN_TOKEN_LENGTH} "
            "(a short token can be guessed); e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if settings.telnyx_public_key and not settings.insecure_skip_verify:
        problem = public_key_problem(settings.telnyx_public_key)
        if problem:
            raise ConfigError(f"TELNYX_PUBLIC_KEY {problem}: every webhook would be refused. Copy the "
                              "base64 Ed25519 public key from the Telnyx portal (Account Settings > Keys)")
    try:
        parse_trusted(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if settings.session_idle_minutes <= 0:
        raise ConfigError("SURVEY_BOT_SESSION_IDLE_MINUTES must be more than 0")


def public_key_problem(key: str) -> str | None:
    """What is wrong with a configured public key, or None (an Ed25519 public key is 32 bytes)."""
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (binascii.Error, ValueError):
        return "is not base64"
    if len(raw) != 32:
        return f"decodes to {len(raw)} bytes, not the 32 of an Ed25519 public key"
    return None


async def startup() -> None:
    """Check the database, record today's form versions, start the writer, the dispatcher and the jobs."""
    from quart import current_app

    app_state = state(current_app)
    settings = app_state.settings
    if settings.insecure_skip_verify:
        log.warning("INSECURE: webhook signatures are NOT verified (--insecure-skip-verify); local use only")
    await app_state.runtime.check_database()
    await load_secret_key(current_app._get_current_object())  # type: ignore[attr-defined]
    log.info("forms from %s: %s", settings.forms_path, ", ".join(sorted(app_state.catalog.forms)) or "none")
    now = datetime.now(UTC)
    async with app_state.sessions() as session, session.begin():
        for form in app_state.catalog.forms.values():
            await form_version_id(session, form, now)
    app_state.intake.start()
    if settings.dispatch_commands and settings.dispatcher == "process":
        app_state.dispatch_process = DispatchProcess()
        await app_state.dispatch_process.start()
    elif settings.dispatch_commands:
        app_state.dispatcher.start()
    if settings.dispatch_commands:
        app_state.watchdog = Watchdog(app_state.sessions, app_state.catalog, app_state.client, app_state.intake,
                                      settings.call_silence_timeout)
        app_state.watchdog.start()
        app_state.scheduler = Scheduler(app_state.sessions, app_state.catalog, settings,
                                        on_dial=app_state.wake_dispatcher)
        app_state.scheduler.start()
        retention = RetentionJob(app_state.sessions, app_state.catalog, settings.retention_days, app_state.engine)
        if not retention.idle:
            app_state.retention = retention
            retention.start()
        app_state.webhooks = WebhookJob(app_state.sessions, renderer(app_state.engine), settings.retry_schedule,
                                        settings.webhooks_allow_private)
        app_state.webhooks.start()


async def shutdown() -> None:
    """Drain the intake, give in-flight commands a few seconds, close the pool."""
    from quart import current_app

    app_state = state(current_app)
    if app_state.watchdog is not None:
        await app_state.watchdog.stop()
    if app_state.retention is not None:
        await app_state.retention.stop()
    if app_state.webhooks is not None:
        await app_state.webhooks.stop()
    if app_state.scheduler is not None:
        await app_state.scheduler.stop()
    await app_state.intake.stop()
    await app_state.dispatcher.stop()
    if app_state.dispatch_process is not None:
        await app_state.dispatch_process.stop()
    await app_state.runtime.close()


async def healthz() -> tuple[Response, int]:
    """Liveness and database reachability."""
    from quart import current_app

    app_state = state(current_app)
    try:
        async with app_state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # report, do not crash: a load balancer reads this
        return jsonify(status="unavailable", database=f"unreachable: {type(exc).__name__}"), 503
    return jsonify(status="ok", database="ok"), 200


async def http_error(error: HTTPException) -> tuple[Response, int]:
    """Answer HTTP errors (413, 404, 405, 408...) as JSON, never as a 5xx page."""
    code = error.code or 500
    response = jsonify(error=(error.name or "error").lower().replace(" ", "_"), detail=error.description)
    # Keep the error's own headers (a 405's Allow, RFC 9110), not its HTML content type.
    response.headers.extend((k, v) for k, v in error.get_headers() if k.lower() != "content-type")
    return response, code
