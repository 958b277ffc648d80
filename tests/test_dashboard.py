"""The dashboard through Quart's test client: sign-in, CSRF, cookie flags, and pages over real rows."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient
from sqlalchemy import select, update

from survey_bot.storage.models import Command, FormVersion, Response, WebhookEvent
from survey_bot.web.app import create_app
from survey_bot.web.state import state

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
TOKEN = "dashboard-test-token"
ANY_KEY = base64.b64encode(b"k" * 32).decode()
NOW = datetime.now(UTC).replace(microsecond=0)
SURVEY = "customer_satisfaction"


def make_app(database_url: str, **overrides: Any) -> Quart:
    settings = {"database_url": database_url, "telnyx_public_key": ANY_KEY, "admin_token": TOKEN,
                "forms_dir": FORMS_DIR, "dispatch_commands": False, **overrides}
    app = create_app(settings)
    app.config["DASHBOARD_LIVE_POLL_SECONDS"] = 0.05
    return app


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Quart]:
    app = make_app(database_url)
    async with app.test_app():
        yield app


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


async def sign_in(client: QuartClient) -> str:
    """Sign in; return the signed-in session's CSRF token."""
    page = await client.get("/dashboard/login")
    response = await client.post("/dashboard/login", form={"csrf_token": csrf_of(await page.get_data(as_text=True)),
                                                           "token": TOKEN, "next": "/dashboard/"})
    assert response.status_code == 302
    forms = await client.get("/dashboard/")
    assert forms.status_code == 200
    return csrf_of(await forms.get_data(as_text=True))


async def text(client: QuartClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    body = await response.get_data(as_text=True)
    assert response.status_code == status, body[:500]
    return body


async def version_id(app: Quart, form_id: str = SURVEY) -> int:
    async with state(app).sessions() as db:
        found = await db.scalar(select(FormVersion.id).where(FormVersion.form_id == form_id))
    assert found is not None
    return found


async def add(app: Quart, status: str, sources: dict[str, str] | None = None, *, form_id: str = SURVEY,
              started: datetime = NOW - timedelta(minutes=10), minutes: float | None = 2.0,
              **extra: Any) -> str:
    """Insert a response as the webhook path would leave it; return its id."""
    sources = sources or {}
    values = {"nps": 9, "satisfaction": "satisfied", "would_recommend": True, "topics": ["price"], "comment": "ok"}
    ended = started + timedelta(minutes=minutes) if minutes is not None else None
    row = Response(
        id=str(uuid.uuid4()), form_id=form_id, form_version_id=await version_id(app, form_id),
        call_control_id=f"v3:{uuid.uuid4().hex}", direction=extra.pop("direction", "incoming"),
        from_number="+15557770001", to_number="+15550100001", status=status,
        answers={n: values.get(n, "x") for n in sources}, sources=sources,
        answer_times={n: (started + timedelta(seconds=30)).isoformat() for n in sources},
        message_history=extra.pop("message_history", []), keypad_attempts=extra.pop("keypad_attempts", []),
        keypad_queue=None, failures=[], started_at=started, ended_at=ended if status != "in_progress" else None,
        completed_at=ended if status in ("completed", "partial") else None, updated_at=started, **extra)
    async with state(app).sessions() as db, db.begin():
        db.add(row)
    return row.id


def cell(html: str, field: str, column: str) -> int:
    row = re.search(rf'<tr data-field="{re.escape(field)}">(.*?)</tr>', html, re.S)
    assert row, f"no funnel row for {field}"
    value = re.search(rf'data-col="{column}">(\d+)<', row.group(1))
    assert value, f"no {column} in row {field}"
    return int(value.group(1))


def metric(html: str, name: str) -> str:
    found = re.search(rf'data-metric="{name}">([^<]*)<', html)
    assert found, f"no metric {name}"
    return found.group(1).strip()


# --- access --------------------------------------------------------------------------------------------------


async def test_every_dashboard_page_requires_sign_in(app: Quart) -> None:
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/dashboard") or rule.endpoint in ("dashboard.login", "dashboard.static"):
            continue
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        method = "GET" if "GET" in rule.methods else "POST"
        response = await client.open(path, method=method)
        if method == "POST":
            assert response.status_code == 400, path  # no CSRF token in an anonymous session
        elif rule.endpoint == "dashboard.live_stream":
            assert response.status_code == 401
        else:
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/dashboard/login?next=")


async def test_wrong_token_is_refused_and_right_one_signs_in(app: Quart) -> None:
    client = app.test_client()
    csrf = csrf_of(await text(client, "/dashboard/login"))
    refused = await client.post("/dashboard/login", form={"csrf_token": csrf, "token": "not-it"})
    assert refused.status_code == 401
    assert "not the admin token" in await refused.get_data(as_text=True)
    assert (await client.get("/dashboard/")).status_code == 302
    accepted = await client.post("/dashboard/login",
                                 form={"csrf_token": csrf, "token": TOKEN, "next": "/dashboard/live"})
    assert accepted.headers["Location"] == "/dashboard/live"
    assert (await client.get("/dashboard/")).status_code == 200


async def test_sign_in_never_redirects_off_the_dashboard(app: Quart) -> None:
    client = app.test_client()
    csrf = csrf_of(await text(client, "/dashboard/login"))
    response = await client.post("/dashboard/login",
                                 form={"csrf_token": csrf, "token": TOKEN, "next": "https://evil.example/"})
    assert response.headers["Location"] == "/dashboard/"


async def test_posts_need_the_sessions_csrf_token(app: Quart) -> None:
    client = app.test_client()
    await text(client, "/dashboard/login")
    no_token = await client.post("/dashboard/login", form={"token": TOKEN})
    assert no_token.status_code == 400
    assert (await client.get("/dashboard/")).status_code == 302
    csrf = await sign_in(client)
    for form in ({}, {"csrf_token": "forged"}):
        refused = await client.post("/dashboard/logout", form=form)
        assert refused.status_code == 400
        assert (await client.get("/dashboard/")).status_code == 200  # still signed in
    simulated = await client.post(f"/dashboard/forms/{SURVEY}/simulate", form={"csrf_token": "forged"})
    assert simulated.status_code == 400
    out = await client.post("/dashboard/logout", form={"csrf_token": csrf})
    assert out.status_code == 302
    assert (await client.get("/dashboard/")).status_code == 302


async def test_session_cookie_flags(app: Quart) -> None:
    client = app.test_client()
    response = await client.get("/dashboard/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    secure = await app.test_client().get("/dashboard/login", scheme="https")
    assert "Secure" in secure.headers["Set-Cookie"]
    assert app.secret_key and TOKEN not in str(app.secret_key)
    page = await text(client, "/dashboard/login")
    assert 'type="password"' in page
    assert TOKEN not in base64.urlsafe_b64decode(cookie.split("=", 1)[1].split(".")[0] + "==").decode("latin-1")


async def test_dashboard_answers_503_without_an_admin_token(database_url: str) -> None:
    app = make_app(database_url, admin_token="")
    async with app.test_app():
        client = app.test_client()
        for path in ("/dashboard/", "/dashboard/login"):
            response = await client.get(path)
            assert response.status_code == 503
            assert "SURVEY_BOT_ADMIN_TOKEN" in await response.get_data(as_text=True)


# --- pages over real rows -------------------------------------------------------------------------------------


async def test_forms_page_counts_calls_and_completion(app: Quart) -> None:
    await add(app, "completed", dict.fromkeys(["nps", "satisfaction"], "ai"))
    await add(app, "completed", {"nps": "ai", "satisfaction": "dtmf"}, started=NOW - timedelta(days=3))
    await add(app, "abandoned", {"nps": "ai_partial"})
    await add(app, "in_progress", minutes=None)
    client = app.test_client()
    await sign_in(client)
    html = await text(client, "/dashboard/")
    row = re.search(rf'<tr id="form-{SURVEY}">(.*?)</tr>', html, re.S)
    assert row
    today = NOW.date() == (NOW - timedelta(minutes=10)).date()
    assert metric(row.group(1), "today") == ("3" if today else "0")
    assert metric(row.group(1), "total") == "4"
    assert metric(row.group(1), "completion") == "67%"  # 2 completed of 3 ended
    assert "appointment_intake" in html
    assert "current" in html
    assert "survey-bot demo" in html  # no simulator attached: the page says how to try forms


async def test_form_page_funnel_outcomes_and_table(app: Quart) -> None:
    both = {"nps": "ai", "satisfaction": "ai"}
    await add(app, "completed", both | {"would_recommend": "ai"}, minutes=2)
    await add(app, "completed", {"nps": "ai", "satisfaction": "dtmf", "would_recommend": "dtmf"}, minutes=4,
              keypad_attempts=[{"field": "satisfaction", "n": 1, "status": "valid", "digits": "2", "at": "x"}])
    await add(app, "abandoned", {"nps": "ai"}, current_field="satisfaction", minutes=1,
              keypad_attempts=[{"field": "satisfaction", "n": 1, "status": "call_hangup", "digits": ""}])
    await add(app, "failed", direction="outgoing", hangup_cause="no_answer", minutes=0.5)
    await add(app, "in_progress", {"nps": "ai_partial"}, minutes=None)
    await add(app, "completed", both, started=NOW - timedelta(days=40))  # outside the range below
    client = app.test_client()
    await sign_in(client)
    since = (NOW - timedelta(days=7)).date().isoformat()
    html = await text(client, f"/dashboard/forms/{SURVEY}?since={since}")
    assert (cell(html, "nps", "reached"), cell(html, "nps", "ai")) == (3, 3)
    assert cell(html, "satisfaction", "reached") == 3
    assert cell(html, "satisfaction", "ai") == 1
    assert cell(html, "satisfaction", "keypad") == 1
    assert cell(html, "satisfaction", "keypad-tried") == 2
    assert cell(html, "satisfaction", "unanswered") == 1
    assert cell(html, "satisfaction", "breakoffs") == 1
    assert cell(html, "comment", "reached") == 2  # the caller who left at satisfaction never got there
    assert metric(html, "ended") == "4"
    assert metric(html, "in-progress") == "1"
    assert metric(html, "completion") == "50%"
    assert metric(html, "median-duration") == "1 min 30 s"  # median of 2, 4, 1, 0.5 minutes
    assert metric(html, "median-complete") == "3 min 00 s"
    assert metric(html, "ai-share") == "71%"  # 5 final answers by AI, 2 by keypad
    assert metric(html, "keypad-share") == "29%"
    outcomes = dict(re.findall(r'data-outcome="(\w+)"><th scope="row">[^<]*</th><td class="num">(\d+)<', html))
    assert outcomes == {"completed": "2", "partial": "0", "breakoff": "1", "refused": "1", "failed": "0"}
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="funnel" role="img"' in html
    assert "<title id=\"funnel-title\">" in html and "<desc id=\"funnel-desc\">" in html
    assert "5 responses" in html
    assert f'href="/dashboard/forms/{SURVEY}/export.csv?since={since}"' in html
    every = await text(client, f"/dashboard/forms/{SURVEY}")
    assert metric(every, "ended") == "5"


async def test_responses_table_filters_and_paginates(app: Quart) -> None:
    for i in range(27):
        await add(app, "completed" if i % 3 else "abandoned", {"nps": "ai"}, started=NOW - timedelta(minutes=i + 5))
    client = app.test_client()
    await sign_in(client)
    first = await text(client, f"/dashboard/forms/{SURVEY}")
    assert "27 responses, page 1 of 2" in first
    assert first.count('href="/dashboard/responses/') == 25
    second = await text(client, f"/dashboard/forms/{SURVEY}?page=2")
    assert second.count('href="/dashboard/responses/') == 2
    abandoned = await text(client, f"/dashboard/forms/{SURVEY}?status=abandoned")
    assert "9 responses" in abandoned
    assert abandoned.count("status-abandoned") == 9
    assert 'href="/dashboard/forms/customer_satisfaction/export.csv?status=abandoned"' in abandoned
    await text(client, "/dashboard/forms/nope", status=404)


async def test_csv_and_ndjson_downloads_use_the_exporter(app: Quart) -> None:
    done = await add(app, "completed", {"nps": "ai", "satisfaction": "dtmf"})
    await add(app, "abandoned", {"nps": "ai"})
    client = app.test_client()
    await sign_in(client)
    response = await client.get(f"/dashboard/forms/{SURVEY}/export.csv?status=completed")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    lines = (await response.get_data(as_text=True)).splitlines()
    assert lines[0].startswith("response_id,form_id,form_version,status")
    assert len(lines) == 2 and lines[1].startswith(done)
    ndjson = await text(client, f"/dashboard/forms/{SURVEY}/export.ndjson")
    records = [json.loads(line) for line in ndjson.splitlines()]
    assert {r["status"] for r in records} == {"completed", "abandoned"}
    assert (await client.get(f"/dashboard/forms/{SURVEY}/export.xml")).status_code == 404


async def test_response_page_shows_answers_sources_attempts_transcript_and_timeline(app: Quart) -> None:
    rid = await add(
        app, "completed", {"nps": "ai", "satisfaction": "dtmf"},
        message_history=[{"role": "assistant", "content": "How likely are you to recommend us?"},
                         {"role": "user", "content": "Nine."}],
        keypad_attempts=[{"field": "satisfaction", "n": 1, "status": "valid", "digits": "9", "at": NOW.isoformat(),
                          "error": "9 is not a choice"},
                         {"field": "satisfaction", "n": 2, "status": "valid", "digits": "2", "at": NOW.isoformat()}])
    async with state(app).sessions() as db, db.begin():
        db.add(WebhookEvent(id="evt-1", event_type="call.ai_gather.ended", response_id=rid, occurred_at=NOW,
                            received_at=NOW, body="{}", state="processed", note=None))
        db.add(Command(command_id="cmd-1", response_id=rid, action="gather_using_speak",
                       step="keypad:satisfaction:1", arguments={}, status="sent", attempts=1, created_at=NOW,
                       sent_at=NOW))
    client = app.test_client()
    await sign_in(client)
    html = await text(client, f"/dashboard/responses/{rid}")
    nps = re.search(r'<tr data-field="nps"[^>]*>(.*?)</tr>', html, re.S)
    satisfaction = re.search(r'<tr data-field="satisfaction"[^>]*>(.*?)</tr>', html, re.S)
    assert nps and ">9<" in nps.group(1) and "src-ai" in nps.group(1)
    assert satisfaction and "satisfied" in satisfaction.group(1) and "keypad" in satisfaction.group(1)
    assert "9 is not a choice" in html
    assert "How likely are you to recommend us?" in html and "Nine." in html
    assert "call.ai_gather.ended" in html and "gather_using_speak" in html and "keypad:satisfaction:1" in html
    await text(client, "/dashboard/responses/missing", status=404)


async def test_live_page_and_stream_follow_a_call_until_it_ends(app: Quart) -> None:
    rid = await add(app, "in_progress", {"nps": "ai_partial"}, minutes=None,
                    message_history=[{"role": "assistant", "content": "Hello!"}])
    client = app.test_client()
    await sign_in(client)
    html = await text(client, "/dashboard/live")
    assert f'id="call-{rid}"' in html and "Hello!" in html
    async with client.request("/dashboard/live/stream") as connection:
        await connection.send_complete()
        events = await read_events(connection, lambda seen: any(name == "sync" for name, _ in seen))
        calls = [data for name, data in events if name == "call"]
        assert calls[0]["id"] == rid
        assert next(a for a in calls[0]["answers"] if a["name"] == "nps")["source"] == "ai_partial"
        async with state(app).sessions() as db, db.begin():
            await db.execute(update(Response).where(Response.id == rid).values(
                answers={"nps": 9}, sources={"nps": "ai"}, updated_at=NOW + timedelta(seconds=1)))
        events = await read_events(connection, lambda seen: any(name == "call" for name, _ in seen))
        update_event = next(data for name, data in events if name == "call")
        assert next(a for a in update_event["answers"] if a["name"] == "nps") == {
            "name": "nps", "title": "Likelihood to recommend", "value": "9", "source": "ai", "source_label": "AI"}
        async with state(app).sessions() as db, db.begin():
            await db.execute(update(Response).where(Response.id == rid).values(
                status="abandoned", ended_at=NOW, updated_at=NOW + timedelta(seconds=2)))
        events = await read_events(connection, lambda seen: any(name == "ended" for name, _ in seen))
        ended = next(data for name, data in events if name == "ended")
        assert (ended["id"], ended["outcome"]) == (rid, "Breakoff")
        await connection.disconnect()


async def read_events(connection: Any, done: Any, limit: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
    """Read Server-Sent Events until `done(events)` holds."""
    import asyncio

    events: list[tuple[str, dict[str, Any]]] = []
    buffer = ""
    async with asyncio.timeout(limit):
        while not done(events):
            buffer += (await connection.receive()).decode()
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":")
                if "event" in fields:
                    events.append((fields["event"], json.loads(fields["data"])))
    return events
