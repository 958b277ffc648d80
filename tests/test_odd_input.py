"""Odd input over a real socket, on SQLite and PostgreSQL: signed webhooks nested past any sane depth or holding
an integer Python will not convert, API bodies nested 100,000 levels, stored transcripts and keypad attempts
whose entries are not objects, and date filters at the calendar's ends. Each gets a clear 4xx naming the place
(a JSON pointer or the parameter), or, for what is already stored, a 200 showing it as it is; never a 500, and
a refused webhook or call is not recorded."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.storage.models import FormVersion, Response, WebhookEvent
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
TOKEN = "odd-input-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}
SURVEY = "customer_satisfaction"
SURVEY_NUMBER = "+15550100001"  # customer_satisfaction's x-numbers


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, {"forms_dir": FORMS, "dispatch_commands": False,
                                            "admin_token": TOKEN}) as running:
        yield running


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.app_url, trust_env=False, timeout=30) as http:
        yield http


def nested(depth: int, inner: str = "1") -> str:
    """JSON text: `inner` inside `depth` arrays."""
    return "[" * depth + inner + "]" * depth


def zeros(count: int) -> str:
    """The JSON pointer steps into `count` nested arrays' first items."""
    return "/0" * count


def envelope_text(payload: str, after_data: str = "") -> str:
    """A Telnyx envelope (as text) with the JSON text `payload`, and `after_data` (members) after `data`."""
    data = (f'{{"record_type": "event", "event_type": "call.initiated", "id": "{uuid.uuid4()}", '
            f'"occurred_at": "2026-12-01T10:00:00Z", "payload": {payload}}}')
    return f'{{"data": {data}{after_data}}}'


async def count(stack: Stack, model: type[Response] | type[WebhookEvent]) -> int:
    async with state(stack.app).sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# ---- signed webhooks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "detail"), [
    (envelope_text(f'{{"call_control_id": "v3:deep", "deep": {nested(1100)}}}'),
     "body: nested deeper than 64 levels at /data/payload/deep" + zeros(61)),
    (nested(1100), "body: nested deeper than 64 levels at " + zeros(64)),
    (nested(100_000), "body: nested deeper than 64 levels at " + zeros(64)),
    (envelope_text('{"call_control_id": "v3:deep"}', f', "meta": {nested(1000)}'),
     "body: nested deeper than 64 levels at /meta" + zeros(63)),
    (envelope_text(f'{{"call_control_id": "v3:big", "n": {"9" * 5000}}}'),
     "body: an integer of 5000 digits (Python reads at most 4300) at /data/payload/n"),
    (envelope_text(f'{{"call_control_id": "v3:big", "n": [1, -{"1" * 4301}]}}'),
     "body: an integer of 4301 digits (Python reads at most 4300) at /data/payload/n/1"),
], ids=["payload 1,100 deep", "body 1,100 deep", "body 100,000 deep", "meta 1,000 deep", "5,000-digit integer",
        "4,301-digit negative"])
async def test_signed_odd_webhooks_get_a_400_saying_where_and_are_not_recorded(
        stack: Stack, client: httpx.AsyncClient, body: str, detail: str) -> None:
    raw = body.encode()
    response = await client.post("/webhooks/telnyx", content=raw, headers=stack.fake.signer.headers(raw))
    assert response.status_code == 400, response.text[:300]
    assert response.json() == {"error": "invalid_payload", "detail": detail}
    assert await count(stack, WebhookEvent) == 0
    assert await count(stack, Response) == 0


@pytest.mark.parametrize("state_json", [nested(1100), f'{{"r": "x", "deep": {nested(1100)}}}',
                                        f'{{"n": {"9" * 5000}}}'], ids=["list", "object", "integer"])
async def test_a_signed_webhook_with_an_undecodable_client_state_is_handled_as_a_foreign_one(
        stack: Stack, client: httpx.AsyncClient, state_json: str) -> None:
    """client_state is ours (Telnyx echoes what we set): one we cannot decode is ignored, as a corrupt one is."""
    call_id = f"v3:{uuid.uuid4().hex}"
    raw = envelope_text(json.dumps({
        "call_control_id": call_id, "direction": "incoming", "from": "+15557770001", "to": SURVEY_NUMBER,
        "client_state": base64.b64encode(state_json.encode()).decode()})).encode()
    response = await client.post("/webhooks/telnyx", content=raw, headers=stack.fake.signer.headers(raw))
    assert response.status_code == 200, response.text[:300]
    assert response.json()["result"] == "processed"
    assert await stack.response_for_call(call_id) is not None


# ---- POST /api/calls -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "detail"), [
    (nested(100_000), "body: nested deeper than 64 levels at " + zeros(64)),
    (f'{{"to": "+15551234567", "form": {nested(2000)}}}', "body: nested deeper than 64 levels at /form" + zeros(63)),
    (f'{{"to": "+15551234567", "form": {{"a/b": {nested(1100, "{}")}}}}}',
     "body: nested deeper than 64 levels at /form/a~1b" + zeros(62)),
    (f'{{"to": "+15551234567", "form": {"7" * 5000}}}',
     "body: an integer of 5000 digits (Python reads at most 4300) at /form"),
    ('{"to": "+15551234567", "form": ', "body: not valid JSON: Expecting value at line 1 column 32"),
], ids=["100,000 deep", "2,000 deep in an object", "1,100 deep under a key with a slash", "5,000-digit integer",
        "cut short"])
async def test_an_unreadable_api_body_is_a_400_saying_where(stack: Stack, client: httpx.AsyncClient, body: str,
                                                           detail: str) -> None:
    response = await client.post("/api/calls", content=body.encode(), headers=JSON_AUTH)
    assert response.status_code == 400, response.text[:300]
    assert response.json() == {"error": "invalid_request", "detail": detail}
    assert await count(stack, Response) == 0


async def test_a_readable_api_body_still_places_the_call(stack: Stack, client: httpx.AsyncClient) -> None:
    body = json.dumps({"to": "+15551234567", "form": SURVEY})
    response = await client.post("/api/calls", content=body.encode(), headers=JSON_AUTH)
    assert response.status_code == 202, response.text[:300]
    assert await count(stack, Response) == 1


# ---- stored entries that are not objects ---------------------------------------------------------------

ODD_TRANSCRIPT: list[Any] = [{"role": "assistant", "content": "How was it?"}, "a string", 42, None, [1, 2],
                             {"role": "user", "content": "fine"}, 1.5, True, {"no_role": "x"}]
ODD_ATTEMPTS: list[Any] = [{"field": "nps", "n": 1, "status": "valid", "digits": "9"}, "pressed 9", 7, None,
                           ["9", "#"]]
ODD_FAILURES: list[Any] = [{"step": "gather", "error": "timeout"}, "boom", 500, None, [{"nested": True}]]


async def add_odd_response(stack: Stack) -> str:
    """Insert a response whose JSON lists hold entries that are not objects; return its id."""
    started = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    async with state(stack.app).sessions() as db, db.begin():
        version = await db.scalar(select(FormVersion.id).where(FormVersion.form_id == SURVEY))
        assert version is not None
        row = Response(
            id=str(uuid.uuid4()), form_id=SURVEY, form_version_id=version, call_control_id=None,
            direction="incoming", from_number="+15557770001", to_number=SURVEY_NUMBER, status="partial",
            answers={"nps": 9}, sources={"nps": "keypad"}, answer_times={}, message_history=ODD_TRANSCRIPT,
            keypad_attempts=ODD_ATTEMPTS, keypad_queue=None, failures=ODD_FAILURES, started_at=started,
            ended_at=started + timedelta(minutes=2), completed_at=started + timedelta(minutes=2),
            updated_at=started)
        db.add(row)
    return row.id


async def signed_in_get(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET a dashboard page, signing in with the admin token first (CSRF-checked, as a browser does)."""
    if "survey_bot_dashboard" not in client.cookies:
        login = await client.get("/dashboard/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf is not None
        signed = await client.post("/dashboard/login", data={"csrf_token": csrf.group(1), "token": TOKEN,
                                                              "next": "/dashboard/"})
        assert signed.status_code == 302
    return await client.get(path)


async def test_odd_transcript_and_keypad_entries_are_shown_as_stored(stack: Stack,
                                                                      client: httpx.AsyncClient) -> None:
    response_id = await add_odd_response(stack)
    response = await client.get(f"/api/responses/{response_id}", headers=AUTH)
    assert response.status_code == 200, response.text[:500]
    detail = response.json()
    assert (detail["transcript"], detail["keypad_attempts"], detail["failures"]) == (
        ODD_TRANSCRIPT, ODD_ATTEMPTS, ODD_FAILURES)
    page = await signed_in_get(client, f"/dashboard/responses/{response_id}")
    assert page.status_code == 200, page.text[:500]
    for shown in ("How was it?", "<code>a string</code>", "<code>42</code>", "<code>None</code>",
                  "<code>[1, 2]</code>", "<code>pressed 9</code>", "<code>[&#39;9&#39;, &#39;#&#39;]</code>"):
        assert shown in page.text, shown


async def test_the_form_page_counts_around_odd_keypad_entries(stack: Stack, client: httpx.AsyncClient) -> None:
    await add_odd_response(stack)
    page = await signed_in_get(client, f"/dashboard/forms/{SURVEY}")
    assert page.status_code == 200, page.text[:500]
    row = re.search(r'<tr data-field="nps">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert 'data-col="keypad-tried">1<' in row.group(1)  # the one attempt that names nps; the odd ones name none


async def test_the_openapi_document_says_these_entries_may_be_any_json(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    answer = document["paths"]["/api/responses/{response_id}"]["get"]["responses"]["200"]
    properties = answer["content"]["application/json"]["schema"]["properties"]
    for name in ("transcript", "keypad_attempts", "failures"):
        assert properties[name]["type"] == "array" and properties[name]["items"] == {}, (name, properties[name])


# ---- dates at the calendar's ends ----------------------------------------------------------------------

API_DATES = [
    ("since=9999-12-31", 200, 0), ("until=9999-12-31", 200, 1), ("since=0001-01-01", 200, 1),
    ("until=0001-01-01", 200, 0), ("since=9999-12-31T23:59:59.999999Z", 200, 0),
    ("since=garbage", 400, "since: Input should be a valid datetime"),
    ("since=9999-12-31T23:59:59-01:00", 400, "since: Value error, 9999-12-31T23:59:59-01:00 is outside the years "
                                             "1 to 9999 in UTC"),
    ("until=0001-01-01T00:00:00%2B01:00", 400, "until: Value error, 0001-01-01T00:00:00+01:00 is outside the years "
                                               "1 to 9999 in UTC"),
]


@pytest.mark.parametrize(("query", "status", "expected"), API_DATES, ids=[case[0] for case in API_DATES])
async def test_api_date_filters_at_the_calendars_ends_select_or_name_the_parameter(
        stack: Stack, client: httpx.AsyncClient, query: str, status: int, expected: int | str) -> None:
    await add_odd_response(stack)
    for path in (f"/api/forms/{SURVEY}/responses?{query}", f"/api/forms/{SURVEY}/export.csv?{query}",
                 f"/api/forms/{SURVEY}/export.ndjson?{query}"):
        response = await client.get(path, headers=AUTH)
        assert response.status_code == status, (path, response.text[:300])
        if status == 400:
            answer = response.json()
            assert answer["error"] == "invalid_request" and answer["detail"].startswith(str(expected)), answer
            assert [item["field"] for item in answer["fields"]] == [query.split("=")[0]]
        elif path.endswith("/responses?" + query):
            assert len(response.json()["items"]) == expected
        else:
            rows = [line for line in response.text.splitlines() if line]
            assert len(rows) - path.count("export.csv") == expected, (path, response.text[:300])


DASHBOARD_DATES = [
    ("since=9999-12-31", 200, "0 responses"), ("since=0001-01-01", 200, "1 response"),
    ("until=0001-01-01", 200, "0 responses"),
    ("until=9999-12-31", 400, "until: &#39;9999-12-31&#39; is the last day there is; leave it empty for no end"),
    ("since=garbage", 400, "since: &#39;garbage&#39; is not a date (YYYY-MM-DD) or an ISO 8601 time"),
    ("since=9999-12-31T23:59:59-01:00", 400, "since: 9999-12-31T23:59:59-01:00 is outside the years 1 to 9999 in UTC"),
    ("until=0001-01-01T00:00:00%2B01:00", 400, "until: 0001-01-01T00:00:00+01:00 is outside the years 1 to 9999"),
]


@pytest.mark.parametrize(("query", "status", "shown"), DASHBOARD_DATES, ids=[case[0] for case in DASHBOARD_DATES])
async def test_dashboard_date_filters_at_the_calendars_ends_select_or_say_which_is_refused(
        stack: Stack, client: httpx.AsyncClient, query: str, status: int, shown: str) -> None:
    await add_odd_response(stack)
    page = await signed_in_get(client, f"/dashboard/forms/{SURVEY}?{query}&status=partial&page=2")
    assert page.status_code == status, page.text[:300]
    assert shown in page.text, page.text[-1500:]
    download = await signed_in_get(client, f"/dashboard/forms/{SURVEY}/export.csv?{query}")
    assert download.status_code == status, download.text[:300]
    if status == 400:
        assert shown in download.text, download.text[-1500:]
