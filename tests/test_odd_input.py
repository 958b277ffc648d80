"""Odd input over a real socket, on SQLite and PostgreSQL: signed webhooks nested past any sane depth or holding
an integer Python will not convert, API bodies nested 100,000 levels, stored transcripts and keypad attempts
whose entries are not objects, and date filters at the calendar's ends. Each gets a clear 4xx naming the place
(a JSON pointer or the parameter), or, for what is already stored, a 200 showing it as it is; never a 500, and
a refused webhook or call is not recorded."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.storage.models import Response, WebhookEvent
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
TOKEN = "odd-input-token"
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
