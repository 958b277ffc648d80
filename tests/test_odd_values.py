"""Values Telnyx may send are stored alike on SQLite and PostgreSQL: signed webhooks with long caller ids (SIP
URIs), NUL characters, NaN and infinities, long call ids and unusual UTC offsets are acknowledged 2xx (never a
500 that Telnyx would redeliver forever while the call goes unanswered), cleaned the same way on both, and a
call id no database could index is refused with a 400 that says why."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.serving.embedded import serve_asgi
from survey_bot.storage.models import Command, Response, WebhookEvent
from survey_bot.web.app import create_app
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
SURVEY_NUMBER = "+15550100001"  # customer_satisfaction's x-numbers
SIP_CALLER = "sip:reception-desk-2@clinic-example.sip.telnyx.com;transport=tls;user=phone;x-site=building-7-floor-3"


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with running_stack(database_url, {"forms_dir": FORMS, "dispatch_commands": False}) as running:
        yield running


def envelope(event_type: str, payload: dict[str, Any], *, occurred_at: str = "2026-12-01T10:00:00.000000Z",
             event_id: str | None = None) -> bytes:
    body = {"data": {"record_type": "event", "event_type": event_type, "id": event_id or str(uuid.uuid4()),
                     "occurred_at": occurred_at, "payload": payload}}
    return json.dumps(body, allow_nan=True).encode()


async def post(stack: Stack, body: bytes, app_url: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        return await client.post(f"{app_url or stack.app_url}/webhooks/telnyx", content=body,
                                 headers=stack.fake.signer.headers(body))


def initiated(call_id: str, **payload: Any) -> dict[str, Any]:
    return {"call_control_id": call_id, "direction": "incoming", "from": "+15557770001", "to": SURVEY_NUMBER,
            **payload}


async def response_of(stack: Stack, call_id: str) -> Response:
    response = await stack.response_for_call(call_id)
    assert response is not None, f"no response stored for {call_id[:40]}..."
    return response


async def test_a_sip_uri_caller_id_is_stored_whole(stack: Stack) -> None:
    call_id = f"v3:sip-{uuid.uuid4()}"
    answer = await post(stack, envelope("call.initiated", initiated(call_id, **{"from": SIP_CALLER})))
    assert answer.status_code == 200, answer.text
    assert len(SIP_CALLER) > 64
    assert (await response_of(stack, call_id)).from_number == SIP_CALLER


async def test_nul_characters_are_kept_visible_as_a_replacement_character(stack: Stack) -> None:
    call_id = f"v3:nul-{uuid.uuid4()}"
    assert (await post(stack, envelope("call.initiated", initiated(call_id, **{"from": "+1555\u00007770001"})))
            ).status_code == 200
    history = [{"role": "user", "content": "my name is \u0000Ada"}]
    answer = await post(stack, envelope("call.ai_gather.message_history_updated",
                                        {"call_control_id": call_id, "message_history": history}))
    assert answer.status_code == 200, answer.text
    response = await response_of(stack, call_id)
    assert response.from_number == "+1555\ufffd7770001"
    assert response.message_history == [{"role": "user", "content": "my name is \ufffdAda"}]


async def test_nan_and_infinity_in_a_transcript_become_null(stack: Stack) -> None:
    call_id = f"v3:nan-{uuid.uuid4()}"
    assert (await post(stack, envelope("call.initiated", initiated(call_id)))).status_code == 200
    history = [{"role": "user", "content": "nine", "confidence": float("nan"), "latency": float("inf")},
               {"role": "assistant", "content": "ok", "score": float("-inf")}]
    body = envelope("call.ai_gather.message_history_updated", {"call_control_id": call_id, "message_history": history})
    assert b"NaN" in body and b"Infinity" in body
    answer = await post(stack, body)
    assert answer.status_code == 200, answer.text
    stored = (await response_of(stack, call_id)).message_history
    assert stored == [{"role": "user", "content": "nine", "confidence": None, "latency": None},
                      {"role": "assistant", "content": "ok", "score": None}]


async def test_a_long_call_control_id_is_stored_and_an_unindexable_one_refused(stack: Stack) -> None:
    long_id = "v3:" + "x" * 297
    answer = await post(stack, envelope("call.initiated", initiated(long_id)))
    assert answer.status_code == 200, answer.text
    assert (await response_of(stack, long_id)).call_control_id == long_id
    commands = [c for c in await stack_commands(stack) if c.call_control_id == long_id]
    assert [c.action for c in commands] == ["answer"]

    huge_id = "v3:" + "y" * 5000
    event_id = str(uuid.uuid4())
    refused = await post(stack, envelope("call.initiated", initiated(huge_id), event_id=event_id))
    assert refused.status_code == 400
    assert "call_control_id" in refused.json()["detail"] and event_id in refused.json()["detail"]


async def stack_commands(stack: Stack) -> list[Command]:
    async with state(stack.app).sessions() as session:
        return list((await session.scalars(select(Command).order_by(Command.id))).all())


@pytest.mark.parametrize(("occurred_at", "stored"), [
    ("2026-12-01T10:00:00+14:00", datetime(2026, 11, 30, 20, 0, tzinfo=UTC)),
    ("2026-12-01T10:00:00-12:00", datetime(2026, 12, 1, 22, 0, tzinfo=UTC)),
    ("2026-12-01T10:00:00+05:45", datetime(2026, 12, 1, 4, 15, tzinfo=UTC)),
    ("2026-12-01T10:00:00+23:59", datetime(2026, 11, 30, 10, 1, tzinfo=UTC)),
    ("2026-12-01T10:00:00.123456+05:30:15", datetime(2026, 12, 1, 4, 29, 45, 123456, tzinfo=UTC)),
    ("0001-01-01T00:00:00+01:00", None),  # before year 1 in UTC: no database holds it, so no time is kept
    ("9999-12-31T23:59:59-01:00", None),
])
async def test_unusual_utc_offsets_are_stored_in_utc(stack: Stack, occurred_at: str, stored: datetime | None) -> None:
    call_id = f"v3:tz-{uuid.uuid4()}"
    event_id = str(uuid.uuid4())
    answer = await post(stack, envelope("call.initiated", initiated(call_id), occurred_at=occurred_at,
                                        event_id=event_id))
    assert answer.status_code == 200, answer.text
    async with state(stack.app).sessions() as session:
        event = await session.get(WebhookEvent, event_id)
    assert event is not None and event.state == "processed"
    got = event.occurred_at
    assert (got.replace(tzinfo=UTC) if got is not None and got.tzinfo is None else got) == stored


async def test_one_call_initiated_twice_at_once_on_two_workers_gets_one_response(database_url: str) -> None:
    """Telnyx may send a call's call.initiated again with a new event id; two workers racing must still answer
    once, and neither may answer 500 (a unique key met at commit is redone and seen as the other's)."""
    async with running_stack(database_url, {"forms_dir": FORMS, "dispatch_commands": False}) as stack:
        second = create_app({**stack_settings(stack), "database_url": database_url})
        async with serve_asgi(second) as second_url:
            call_id = f"v3:twice-{uuid.uuid4()}"
            bodies = [envelope("call.initiated", initiated(call_id)) for _ in range(50)]
            answers = await asyncio.gather(*(post(stack, body, app_url=(stack.app_url, second_url)[i % 2])
                                             for i, body in enumerate(bodies)))
            assert [a.status_code for a in answers] == [200] * 50, [a.text for a in answers if a.status_code != 200]
            async with state(stack.app).sessions() as session:
                responses = await session.scalar(select(func.count()).select_from(Response)
                                                 .where(Response.call_control_id == call_id))
                actions = (await session.scalars(select(Command.action)
                                                 .where(Command.call_control_id == call_id))).all()
                processed = await session.scalar(select(func.count()).select_from(WebhookEvent)
                                                 .where(WebhookEvent.call_control_id == call_id))
            assert responses == 1 and list(actions) == ["answer"]
            assert processed == 50  # every delivery recorded: one answered the call, the others were told why not


def stack_settings(stack: Stack) -> dict[str, Any]:
    """The settings the stack's app runs with (a second app beside it shares its database and its fake)."""
    settings = state(stack.app).settings
    return {"forms_dir": settings.forms_dir, "telnyx_public_key": settings.telnyx_public_key,
            "telnyx_base_url": settings.telnyx_base_url, "telnyx_api_key": settings.telnyx_api_key,
            "telnyx_connection_id": settings.telnyx_connection_id, "from_number": settings.from_number,
            "dispatch_commands": False}
