"""The admin API through Quart's test client: the token guard, forms, pages of responses, filters, exports,
one response's timeline, outbound calls, and the OpenAPI document. Every test runs on both databases."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import select

from survey_bot.simulator.signer import WebhookSigner
from survey_bot.storage.models import Command, FormVersion, Response, WebhookEvent
from survey_bot.web.app import create_app
from survey_bot.web.state import state

FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
EXAMPLES = Path(__file__).resolve().parent / "data" / "telnyx" / "examples"
TOKEN = "api-test-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SIGNER = WebhookSigner.from_seed(b"s" * 32)
SURVEY = "customer_satisfaction"
INTAKE = "appointment_intake"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make_app(database_url: str, **overrides: Any) -> Quart:
    settings = {"database_url": database_url, "telnyx_public_key": SIGNER.public_key_b64, "admin_token": TOKEN,
                "forms_dir": FORMS_DIR, "dispatch_commands": False, **overrides}
    return create_app(settings)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Quart]:
    app = make_app(database_url)
    async with app.test_app():
        yield app


async def version_id(app: Quart, form_id: str = SURVEY) -> int:
    async with state(app).sessions() as db:
        found = await db.scalar(select(FormVersion.id).where(FormVersion.form_id == form_id)
                                .order_by(FormVersion.created_at.desc()))
    assert found is not None
    return found


async def add(app: Quart, *, form_id: str = SURVEY, status: str = "completed", started: datetime = T0,
              answers: dict[str, Any] | None = None, version: int | None = None, **extra: Any) -> str:
    """Insert a response as the webhook path leaves it; return its id."""
    answers = {"nps": 9, "satisfaction": "satisfied"} if answers is None else answers
    row = Response(
        id=extra.pop("id", str(uuid.uuid4())), form_id=form_id,
        form_version_id=version if version is not None else await version_id(app, form_id),
        call_control_id=extra.pop("call_control_id", None), direction="incoming", from_number="+15557770001",
        to_number="+15550100001", status=status, answers=answers, sources=dict.fromkeys(answers, "ai"),
        answer_times={}, message_history=extra.pop("message_history", []),
        keypad_attempts=extra.pop("keypad_attempts", []), keypad_queue=None, failures=extra.pop("failures", []),
        started_at=started, completed_at=started + timedelta(minutes=2) if status == "completed" else None,
        updated_at=started, **extra)
    async with state(app).sessions() as db, db.begin():
        db.add(row)
    return row.id


async def get_json(app: Quart, path: str, status: int = 200, **kwargs: Any) -> Any:
    response = await app.test_client().get(path, headers=AUTH, **kwargs)
    body = await response.get_data(as_text=True)
    assert response.status_code == status, body[:500]
    return json.loads(body)


def api_paths(app: Quart) -> list[tuple[str, str]]:
    """(method, concrete path) of every /api route."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<[^>]+>", "x", rule.rule)
            found += [(method, path) for method in sorted(rule.methods or ()) if method not in ("HEAD", "OPTIONS")]
    return found


# ---- the token guard -----------------------------------------------------------------------------------


async def test_every_api_route_answers_503_until_a_token_is_configured(database_url: str) -> None:
    app = make_app(database_url, admin_token="")
    async with app.test_app():
        paths = api_paths(app)
        assert len(paths) >= 6
        for method, path in paths:
            response = await app.test_client().open(path, method=method, headers=AUTH, json={})
            assert response.status_code == 503, (method, path)
            assert (await response.get_json())["error"] == "api_disabled"


async def test_every_api_route_wants_the_right_bearer_token(app: Quart) -> None:
    client = app.test_client()
    for n, (method, path) in enumerate(api_paths(app)):
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": f"Bearer {TOKEN}x"}):
            # an address per route: the per-address limit on failures (tests/test_door.py) stays out of the way
            response = await client.open(path, method=method, headers=headers, json={},
                                         scope_base={"client": (f"10.1.0.{n}", 40000)})
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert (await response.get_json())["error"] == "unauthorized"


async def test_the_right_token_gets_200(app: Quart) -> None:
    response = await app.test_client().get("/api/forms", headers=AUTH)
    assert response.status_code == 200


# ---- forms ------------------------------------------------------------------------------------------------


async def test_forms_list_versions_and_counts_by_status(app: Quart) -> None:
    old_document = json.loads((FORMS_DIR / f"{SURVEY}.json").read_text())
    del old_document["properties"]["comment"]
    async with state(app).sessions() as db, db.begin():
        old = FormVersion(form_id=SURVEY, version="0" * 64, document=old_document, created_at=T0 - timedelta(days=9))
        db.add(old)
        await db.flush()
        old_id = old.id
    for status in ("completed", "completed", "partial", "abandoned"):
        await add(app, status=status)
    await add(app, status="completed", version=old_id)
    forms = {form["form_id"]: form for form in (await get_json(app, "/api/forms"))["forms"]}
    assert set(forms) == {SURVEY, INTAKE, "purchase_follow_up"}  # every bundled form
    survey = forms[SURVEY]
    assert survey["title"] == "Customer satisfaction survey"
    assert survey["responses"] == {"in_progress": 0, "completed": 3, "partial": 1, "abandoned": 1, "failed": 0,
                                   "total": 5}
    current, older = survey["versions"]
    assert current["version"] == survey["current_version"] and current["responses"] == 4
    assert older["version"] == "0" * 64 and older["responses"] == 1
    assert "comment" in current["fields"] and "comment" not in older["fields"]
    assert forms[INTAKE]["responses"]["total"] == 0
    assert "preferred_slot.date" in forms[INTAKE]["versions"][0]["fields"]


# ---- pages of responses -------------------------------------------------------------------------------------


async def test_pages_have_no_gaps_or_repeats_while_rows_are_added(app: Quart) -> None:
    expected = [await add(app, started=T0 + timedelta(minutes=i // 3)) for i in range(12)]  # ties on started_at
    seen: list[str] = []
    cursor = ""
    for page_number in range(20):
        page = await get_json(app, f"/api/forms/{SURVEY}/responses?limit=4&cursor={cursor}")
        seen += [item["id"] for item in page["items"]]
        if page_number < 3:  # calls keep coming in while the client pages
            expected.append(await add(app, started=T0 + timedelta(hours=1, minutes=page_number)))
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    ordered = sorted(expected[:12], key=lambda rid: (expected.index(rid) // 3, rid)) + expected[12:]
    assert seen == ordered
    assert len(seen) == len(set(seen)) == 15


async def test_a_page_carries_answers_sources_and_utc_times(app: Quart) -> None:
    rid = await add(app, answers={"nps": 7, "topics": ["price", "support"]}, status="completed")
    [item] = (await get_json(app, f"/api/forms/{SURVEY}/responses"))["items"]
    assert item["id"] == rid
    assert item["answers"] == {"nps": 7, "topics": ["price", "support"]}
    assert item["sources"] == {"nps": "ai", "topics": "ai"}
    assert item["started_at"] == "2025-03-01T09:00:00Z" and item["completed_at"] == "2025-03-01T09:02:00Z"
    assert item["from_number"] == "+15557770001" and item["form_version"]


async def test_filters_by_status_and_time(app: Quart) -> None:
    ids = {}
    for i, status in enumerate(["completed", "partial", "abandoned", "completed", "failed"]):
        ids[i] = await add(app, status=status, started=T0 + timedelta(days=i))

    async def found(query: str) -> set[str]:
        return {item["id"] for item in (await get_json(app, f"/api/forms/{SURVEY}/responses?{query}"))["items"]}

    assert await found("status=completed") == {ids[0], ids[3]}
    assert await found("status=completed&status=partial") == {ids[0], ids[1], ids[3]}
    assert await found("since=2025-03-02T09:00:00Z&until=2025-03-04T09:00:00Z") == {ids[1], ids[2]}
    assert await found("since=2025-03-02T10:00:00%2B01:00") == {ids[1], ids[2], ids[3], ids[4]}  # zoned
    assert await found("since=2025-03-04&status=completed") == {ids[3]}  # a date is midnight UTC


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=many", "limit"), ("status=done", "status.0"),
    ("since=yesterday", "since"), ("since=1740819600", "since"), ("cursor=not-a-cursor", "cursor"),
    ("stauts=completed", "stauts"),
])
async def test_invalid_query_strings_get_a_400_naming_the_field(app: Quart, query: str, field: str) -> None:
    body = await get_json(app, f"/api/forms/{SURVEY}/responses?{query}", status=400)
    assert body["error"] == "invalid_request"
    assert body["detail"].startswith(f"{field}:")


async def test_unknown_forms_and_responses_are_json_404s(app: Quart) -> None:
    missing = str(uuid.uuid4())
    for path in ("/api/forms/nope/responses", "/api/forms/nope/export.csv", "/api/forms/nope/export.ndjson",
                 f"/api/responses/{missing}"):
        body = await get_json(app, path, status=404)
        assert body["error"] == "not_found"
        assert "'nope'" in body["detail"] or missing in body["detail"]


# ---- exports ------------------------------------------------------------------------------------------------


async def test_csv_export_streams_with_download_headers(app: Quart) -> None:
    await add(app, answers={"nps": 3, "comment": "=HYPERLINK(\"http://x\")"}, status="partial")
    await add(app, answers={"nps": 10}, status="completed", started=T0 + timedelta(hours=1))
    client = app.test_client()
    response = await client.get(f"/api/forms/{SURVEY}/export.csv?status=partial&with_sources=true", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(rf'attachment; filename="{SURVEY}-\d{{8}}T\d{{6}}Z\.csv"',
                        response.headers["Content-Disposition"])
    assert "X-Formula-Neutralisation" not in response.headers
    rows = list(csv.DictReader(io.StringIO(await response.get_data(as_text=True))))
    assert [(row["nps"], row["comment"], row["nps.source"]) for row in rows] == [
        ("3", "'=HYPERLINK(\"http://x\")", "ai")]

    excel = await client.get(f"/api/forms/{SURVEY}/export.csv?excel=1&raw=true", headers=AUTH)
    data = await excel.get_data()
    assert data.startswith(b"\xef\xbb\xbfresponse_id,") and data.count(b"\r\n") == 3
    assert b',"=HYPERLINK(""http://x"")",,\r\n' in data  # improve_first, topics follow, empty
    assert excel.headers["X-Formula-Neutralisation"] == "off"


async def test_ndjson_export_streams_typed_nested_answers(app: Quart) -> None:
    await add(app, form_id=INTAKE, answers={"full_name": "Zoë", "preferred_slot.date": "2025-04-01",
                                            "new_patient": True})
    response = await app.test_client().get(f"/api/forms/{INTAKE}/export.ndjson", headers=AUTH)
    assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response.headers["Content-Disposition"].endswith('.ndjson"')
    [line] = (await response.get_data(as_text=True)).splitlines()
    record = json.loads(line)
    assert record["answers"] == {"full_name": "Zoë", "preferred_slot": {"date": "2025-04-01"}, "new_patient": True}
    assert record["sources"]["preferred_slot"] == {"date": "ai"}


async def test_exports_with_labels_say_choices_as_their_labels(app: Quart) -> None:
    await add(app, answers={"nps": 3, "satisfaction": "very_dissatisfied", "topics": ["price", "website"],
                            "improve_first": "support"})
    client = app.test_client()
    plain = await client.get(f"/api/forms/{SURVEY}/export.csv", headers=AUTH)
    [row] = list(csv.DictReader(io.StringIO(await plain.get_data(as_text=True))))
    assert row["satisfaction"] == "very_dissatisfied"
    labelled = await client.get(f"/api/forms/{SURVEY}/export.csv?labels=true", headers=AUTH)
    [row] = list(csv.DictReader(io.StringIO(await labelled.get_data(as_text=True))))
    assert (row["satisfaction"], row["topics"], row["nps"]) == ("very dissatisfied", "price;website", "3")
    ndjson = await client.get(f"/api/forms/{SURVEY}/export.ndjson?labels=1", headers=AUTH)
    [line] = (await ndjson.get_data(as_text=True)).splitlines()
    assert json.loads(line)["answers"]["satisfaction"] == "very dissatisfied"
    body = await get_json(app, f"/api/forms/{SURVEY}/responses?labels=true", status=400)
    assert body["fields"][0]["field"] == "labels"  # pages of responses keep values


async def test_export_query_strings_are_validated(app: Quart) -> None:
    body = await get_json(app, f"/api/forms/{SURVEY}/export.csv?excel=perhaps", status=400)
    assert body["fields"][0]["field"] == "excel"


# ---- one response ------------------------------------------------------------------------------------------


async def test_response_detail_has_everything_and_the_call_timeline(app: Quart) -> None:
    attempts = [{"field": "nps", "n": 1, "status": "invalid", "digits": "99", "at": "2025-03-01T09:01:00Z",
                 "error": "above the maximum"}]
    transcript = [{"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Hi, ça va 👋"}]
    rid = await add(app, call_control_id="v3:call-1", keypad_attempts=attempts, message_history=transcript,
                    failures=[{"command": "speak", "error": "422"}], hangup_cause="normal_clearing",
                    hangup_source="caller")
    at = [T0 + timedelta(seconds=s) for s in range(4)]
    async with state(app).sessions() as db, db.begin():
        db.add_all([
            WebhookEvent(id="ev-2", event_type="call.answered", call_control_id="v3:call-1", response_id=rid,
                         occurred_at=at[2], received_at=at[2], body="{}", state="processed", note=None),
            WebhookEvent(id="ev-1", event_type="call.initiated", call_control_id="v3:call-1", response_id=None,
                         occurred_at=at[0], received_at=at[0], body="{}", state="processed", note="answered"),
            Command(command_id="cmd-answer", response_id=rid, call_control_id="v3:call-1", event_id="ev-1",
                    action="answer", step="answer", arguments={}, status="sent", attempts=1, outcome="ok",
                    created_at=at[0], sent_at=at[1]),
            Command(command_id="cmd-gather", response_id=rid, call_control_id="v3:call-1", event_id="ev-2",
                    action="gather_using_ai", step="ai", arguments={}, status="pending", attempts=0,
                    outcome=None, created_at=at[2], sent_at=None),
            WebhookEvent(id="ev-other", event_type="call.answered", call_control_id="v3:other", response_id=None,
                         occurred_at=at[3], received_at=at[3], body="{}", state="ignored", note=None),
        ])
    detail = await get_json(app, f"/api/responses/{rid}")
    assert detail["id"] == rid and detail["answers"] == {"nps": 9, "satisfaction": "satisfied"}
    assert detail["sources"] == {"nps": "ai", "satisfaction": "ai"}
    assert detail["keypad_attempts"] == attempts and detail["transcript"] == transcript
    assert detail["failures"] == [{"command": "speak", "error": "422"}]
    assert detail["hangup_cause"] == "normal_clearing"
    timeline = [(entry["kind"], entry.get("id") or entry["command_id"]) for entry in detail["timeline"]]
    assert timeline == [("event", "ev-1"), ("command", "cmd-answer"), ("event", "ev-2"), ("command", "cmd-gather")]
    first_event, first_command = detail["timeline"][:2]
    assert first_event == {"kind": "event", "at": "2025-03-01T09:00:00Z", "id": "ev-1", "type": "call.initiated",
                           "occurred_at": "2025-03-01T09:00:00Z", "received_at": "2025-03-01T09:00:00Z",
                           "state": "processed", "note": "answered"}
    assert first_command == {"kind": "command", "at": "2025-03-01T09:00:00Z", "command_id": "cmd-answer",
                             "action": "answer", "step": "answer", "status": "sent", "attempts": 1, "outcome": "ok",
                             "created_at": "2025-03-01T09:00:00Z", "sent_at": "2025-03-01T09:00:01Z"}


# ---- outbound calls ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"form": SURVEY}, "to"), ({"to": "+15551234567"}, "form"), ({"to": "5551234567", "form": SURVEY}, "to"),
    ({"to": 15551234567, "form": SURVEY}, "to"), ({"to": "+15551234567", "form": SURVEY, "x": 1}, "x"),
    ([1, 2], "body"),
])
async def test_call_bodies_are_validated_with_the_field_named(app: Quart, body: Any, field: str) -> None:
    response = await app.test_client().post("/api/calls", headers=AUTH, json=body)
    assert response.status_code == 400
    problem = await response.get_json()
    assert problem["error"] == "invalid_request"
    assert [item["field"] for item in problem["fields"]] == [field]


async def test_call_needs_json_and_a_known_form_and_outbound_settings(app: Quart) -> None:
    client = app.test_client()
    response = await client.post("/api/calls", headers=AUTH, data="to=+15551234567")
    assert response.status_code == 415
    response = await client.post("/api/calls", headers={**AUTH, "Content-Type": "application/json"}, data="{")
    assert response.status_code == 400
    response = await client.post("/api/calls", headers=AUTH, json={"to": "+15551234567", "form": "nope"})
    assert response.status_code == 404 and "nope" in (await response.get_json())["detail"]
    response = await client.post("/api/calls", headers=AUTH, json={"to": "+15551234567", "form": SURVEY})
    assert response.status_code == 503 and (await response.get_json())["error"] == "not_configured"


async def test_call_is_queued(database_url: str) -> None:
    app = make_app(database_url, telnyx_connection_id="conn-1", from_number="+15550100001")
    async with app.test_app():
        response = await app.test_client().post("/api/calls", headers=AUTH,
                                                json={"to": "+15551234567", "form": SURVEY})
        assert response.status_code == 202
        body = await response.get_json()
        assert body["to"] == "+15551234567" and body["form"] == SURVEY and body["status"] == "in_progress"
        async with state(app).sessions() as db:
            dial = await db.scalar(select(Command).where(Command.response_id == body["response_id"]))
        assert dial is not None and dial.action == "dial"


# ---- the document and the webhook beside it ---------------------------------------------------------------


async def test_openapi_document_is_public_and_describes_every_api_route(app: Quart) -> None:
    response = await app.test_client().get("/openapi.json")
    assert response.status_code == 200
    document = await response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert document["security"] == [{"bearer": []}]
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    routes = {(method, re.sub(r"<(?:[^:>]*:)?([^>]+)>", r"{\1}", rule.rule))
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    assert documented == routes
    calls = document["paths"]["/api/calls"]["post"]
    assert set(calls["responses"]) == {"202", "400", "401", "404", "413", "415", "429", "503"}
    assert "requestBody" in calls
    export = document["paths"]["/api/forms/{form_id}/export.csv"]["get"]
    assert set(export["responses"]["200"]["content"]) == {"text/csv"}
    assert {p["name"] for p in export["parameters"]} >= {"form_id", "status", "since", "until", "with_sources",
                                                         "excel", "raw", "labels"}
    ndjson = document["paths"]["/api/forms/{form_id}/export.ndjson"]["get"]
    assert "labels" in {p["name"] for p in ndjson["parameters"]}


async def test_the_webhook_still_verifies_the_raw_body(app: Quart) -> None:
    body = (EXAMPLES / "call.initiated.json").read_bytes()
    client = app.test_client()
    response = await client.post("/webhooks/telnyx", data=body, headers=SIGNER.headers(body))
    assert response.status_code == 200, await response.get_data(as_text=True)
    tampered = body.replace(b"call.initiated", b"call.initiatex")
    response = await client.post("/webhooks/telnyx", data=tampered, headers=SIGNER.headers(body))
    assert response.status_code == 401


def test_cursors_are_opaque() -> None:
    from survey_bot.reports.read_model import decode_cursor, encode_cursor

    cursor = encode_cursor(T0, "abc")
    assert "abc" not in cursor and "2025" not in cursor
    assert decode_cursor(cursor) == (T0, "abc")
    assert base64.urlsafe_b64decode(cursor + "==")


# ---- the audit log ---------------------------------------------------------------------------------------------


async def test_audit_lines_are_listed_newest_first_page_by_page(app: Quart) -> None:
    from survey_bot.storage.audit import record_audit

    assert await get_json(app, "/api/audit") == {"items": [], "next_cursor": None}
    async with state(app).sessions() as db, db.begin():
        for n in range(3):
            await record_audit(db, "cli:alice", "purge", SURVEY, n, f"older than {n}d", T0 + timedelta(hours=n))
    first = await get_json(app, "/api/audit?limit=2")
    assert [item["rows"] for item in first["items"]] == [2, 1]
    assert first["items"][0] | {"id": 0} == {"id": 0, "at": "2025-03-01T11:00:00Z", "actor": "cli:alice",
                                             "action": "purge", "form_id": SURVEY, "rows": 2,
                                             "detail": "older than 2d"}
    rest = await get_json(app, f"/api/audit?limit=2&cursor={first['next_cursor']}")
    assert [item["rows"] for item in rest["items"]] == [0]
    await get_json(app, "/api/audit?cursor=nonsense", status=400)
    await get_json(app, "/api/audit?limit=0", status=400)
    document = await (await app.test_client().get("/openapi.json")).get_json()
    audit = document["paths"]["/api/audit"]["get"]
    assert {p["name"] for p in audit["parameters"]} == {"limit", "cursor"}
    assert set(audit["responses"]) == {"200", "400", "401", "429", "503"}
