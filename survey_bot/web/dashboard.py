"""The dashboard: /dashboard pages behind a server-side session opened with the admin token, CSRF-checked forms.

Pages are server-rendered HTML that read fine without JavaScript; the live page's updates (live.py) and the
inline SVG charts (charts.py) are progressive enhancement. What the pages show is the read model's
(reports.read_model, shared with the API) and a form page's report (dashboard_report.py); this module is the
routes, the sign-in (sessions.py, throttled by throttle.py) and the CSRF check. Rendering is dashboard_page.py's;
the campaign pages are a nested blueprint (dashboard_campaigns.py) behind this one's guard.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import (
    Blueprint,
    Quart,
    Response,
    current_app,
    g,
    redirect,
    request,
    session,
    url_for,
)
from quart.sessions import SecureCookieSessionInterface
from werkzeug.datastructures import MultiDict

from survey_bot.errors import ScenarioError
from survey_bot.reports.audit import audit_page
from survey_bot.reports.export import UnknownFormError
from survey_bot.reports.read_model import CursorError, forms_overview, response_detail
from survey_bot.utc import now as utc_now
from survey_bot.web import dashboard_report as views
from survey_bot.web import filters, live, sessions, throttle, try_it
from survey_bot.web.auth import token_matches
from survey_bot.web.dashboard_campaigns import blueprint as campaigns_blueprint
from survey_bot.web.dashboard_page import Reply, page
from survey_bot.web.downloads import export_download
from survey_bot.web.state import state

__all__ = ["blueprint", "init_app"]

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard", static_folder="static",
                      template_folder="templates")
blueprint.register_blueprint(campaigns_blueprint)  # /dashboard/campaigns: behind the same guard
OPEN_ENDPOINTS = frozenset({"dashboard.login", "dashboard.static"})


class DashboardSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose cookie is marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Quart) -> bool:
        """Secure when configured so, when this request is HTTPS, or when a trusted proxy says it was."""
        return bool(super().get_cookie_secure(app) or request.scheme in ("https", "wss")
                    or throttle.forwarded_https(app))


AUDIT_PAGE = 50  # audit lines per page


def init_app(app: Quart) -> None:
    """Register the dashboard: its blueprint, the session cookie's flags (its key is loaded at startup:
    sessions.load_secret_key)."""
    app.config.update(SESSION_COOKIE_NAME="survey_bot_dashboard", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_PATH="/dashboard",
                      PERMANENT_SESSION_LIFETIME=sessions.LIFETIME)
    app.session_interface = DashboardSessionInterface()
    app.add_template_filter(live.show_value, "answer")
    app.add_template_filter(filters.when, "when")
    app.add_template_filter(filters.duration, "duration")
    app.add_template_filter(filters.percent, "percent")
    app.register_blueprint(blueprint)


@blueprint.before_request
async def guard() -> Reply | None:
    """503 until the admin token is set; CSRF on every POST; everything but sign-in needs a session."""
    if not state(current_app).settings.admin_token:
        return await page("dashboard_error.html", 503, title="Dashboard disabled",
                          message="SURVEY_BOT_ADMIN_TOKEN is not set on the server, so nobody can sign in.")
    if request.endpoint == "dashboard.static":
        return None
    if request.method == "POST":
        form: MultiDict[str, str] = await request.form
        presented = form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
        expected: object = session.get("csrf")
        if not isinstance(expected, str) or not token_matches(expected, presented):
            return await page("dashboard_error.html", 400, title="Form expired",
                              message="The form's security token is missing or out of date. "
                                      "Go back, reload the page and try again.")
    if request.endpoint in OPEN_ENDPOINTS or await sessions.current(_app()) is not None:
        return None
    if request.endpoint == "dashboard.live_stream":
        return Response("sign in first", 401, content_type="text/plain")
    return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))


def _safe_next(target: str | None) -> str:
    """Only redirect after sign-in to a dashboard path on this site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/dashboard"):
            return target
    return url_for("dashboard.forms")


@blueprint.route("/login", methods=["GET", "POST"])
async def login() -> Reply:
    """Sign in with the admin token."""
    if request.method == "GET":
        return await page("dashboard_login.html", next=request.args.get("next", ""), error=None)
    form = await request.form
    app = _app()
    client = throttle.client_address(app)
    limited = await throttle.blocked(app, client)
    if limited is not None:
        response = await page("dashboard_login.html", 429, next=form.get("next", ""),
                              error=f"Too many wrong tokens from your address. Try again in {limited.retry_after} s.")
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    if not token_matches(state(app).settings.admin_token, form.get("token", "")):
        await throttle.note_failure(app, client)
        return await page("dashboard_login.html", 401, next=form.get("next", ""),
                          error="That is not the admin token.")
    await sessions.start(app, client)  # a fresh session id and CSRF token
    return redirect(_safe_next(form.get("next")))


@blueprint.post("/logout")
async def logout() -> Reply:
    """Sign out: the session ends on the server, so a copy of the cookie opens nothing."""
    await sessions.end(_app())
    return redirect(url_for("dashboard.login"))


def _app() -> Quart:
    return current_app._get_current_object()  # type: ignore[attr-defined,no-any-return]


@blueprint.get("/")
async def forms() -> Reply:
    """Every form: versions, calls today and in total, completion rate, a way to try it."""
    app_state = state(current_app)
    async with app_state.sessions() as db:
        rows = await forms_overview(db, app_state.catalog, utc_now())
    return await page("dashboard_forms.html", forms=rows, simulator=try_it.status(current_app),
                      started=request.args.get("started"))


@blueprint.get("/forms/<form_id>")
async def form(form_id: str) -> Reply:
    """One form's funnel, outcomes, timings and responses over a chosen time range."""
    app_state = state(current_app)
    query = views.FormQuery.parse(request.args)
    try:
        query.check()
    except views.QueryError as exc:
        return await page("dashboard_error.html", 400, title="Dates not understood", message=str(exc))
    async with app_state.sessions() as db:
        report = await views.form_report(db, app_state.catalog, form_id, query)
    if report is None:
        return await page("dashboard_error.html", 404, title="No such form",
                          message=f"No form named {form_id!r} is loaded or stored.")
    return await page("dashboard_form.html", report=report, query=query, export=views.export_links(form_id, query))


@blueprint.get("/forms/<form_id>/export.<kind>")
async def export(form_id: str, kind: str) -> Reply:
    """Download a form's responses (CSV or NDJSON) with the shared exporter, filtered like the table."""
    if kind not in ("csv", "ndjson"):
        return await page("dashboard_error.html", 404, title="Unknown format", message="Use .csv or .ndjson.")
    query = views.FormQuery.parse(request.args)
    try:
        return await export_download(state(current_app), query.selection(form_id, with_status=True), kind)
    except views.QueryError as exc:
        return await page("dashboard_error.html", 400, title="Dates not understood", message=str(exc))
    except UnknownFormError:
        return await page("dashboard_error.html", 404, title="No such form",
                          message=f"No form named {form_id!r} is loaded or stored.")


@blueprint.get("/responses/<response_id>")
async def response(response_id: str) -> Reply:
    """One response: answers and sources, keypad attempts, transcript, webhooks and commands."""
    app_state = state(current_app)
    async with app_state.sessions() as db:
        detail = await response_detail(db, app_state.catalog, response_id)
    if detail is None:
        return await page("dashboard_error.html", 404, title="No such response",
                          message=f"No response has the id {response_id!r}.")
    return await page("dashboard_response.html", detail=detail, titles={a.name: a.title for a in detail.fields})


@blueprint.get("/audit")
async def audit() -> Reply:
    """The audit log, newest first: who purged or exported sensitive answers, when, which form, how many rows."""
    try:
        async with state(current_app).sessions() as db:
            lines = await audit_page(db, AUDIT_PAGE, request.args.get("cursor", ""))
    except CursorError as exc:
        return await page("dashboard_error.html", 400, title="Page not found", message=str(exc))
    return await page("dashboard_audit.html", lines=lines)


@blueprint.get("/live")
async def live_page() -> Reply:
    """Calls in progress (server-rendered; live.js keeps it current over Server-Sent Events)."""
    app_state = state(current_app)
    async with app_state.sessions() as db:
        calls = await live.live_calls(db, app_state.catalog)
        ended = await live.recently_ended(db, app_state.catalog)
    return await page("dashboard_live.html", calls=calls, ended=ended, started=request.args.get("started"))


@blueprint.get("/live/stream")
async def live_stream() -> Reply:
    """Server-Sent Events: each live call's snapshot when it changes, `ended` when it is over."""
    app, signed = _app(), g.signed_in
    response = Response(live.stream(app, lambda: sessions.still_open(app, signed)), 200,
                        content_type="text/event-stream; charset=utf-8")
    response.headers.update({"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    response.timeout = None  # live.stream bounds itself
    return response


@blueprint.post("/forms/<form_id>/simulate")
async def simulate(form_id: str) -> Reply:
    """Start a simulated call of this form on the attached simulator, then watch it live."""
    try:
        call = await try_it.start_call(current_app, form_id)
    except try_it.TryItUnavailable as exc:
        return await page("dashboard_error.html", 409, title="Simulator not available", message=str(exc))
    return redirect(url_for("dashboard.live_page", started=call))


@blueprint.route("/forms/<form_id>/try", methods=["GET", "POST"])
async def try_scenario(form_id: str) -> Reply:
    """Play a scenario of this form on the attached simulator: the example to edit, or one uploaded or pasted."""
    text, source = "", "the scenario"
    try:
        if request.method == "GET":
            text = try_it.example(current_app, form_id)
            return await page("dashboard_try.html", form_id=form_id, text=text, played=None, problems=[])
        form = await request.form
        upload = (await request.files).get("file")
        text, source = form.get("scenario", ""), "the scenario"
        if upload is not None and upload.filename:
            source = upload.filename
            text = upload.read().decode("utf-8", errors="replace")
        played = await try_it.play(current_app, form_id, text, source)
    except try_it.TryItUnavailable as exc:
        return await page("dashboard_error.html", 409, title="Simulator not available", message=str(exc))
    except ScenarioError as exc:
        return await page("dashboard_try.html", 400, form_id=form_id, text=text, played=None,
                          problems=[str(p) for p in exc.problems])
    return await page("dashboard_try.html", form_id=form_id, text=text, played=played, problems=[])
