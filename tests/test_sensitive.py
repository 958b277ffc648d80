"""Sensitive fields (x-sensitive), on both databases: the answer is encrypted in the row, masked in the API, the
dashboard and the live page, left out of exports unless asked for (and that export is in the audit log), still
readable after a key rotation; `serve` refuses to run such a form without SURVEY_BOT_DATA_KEY; a keypad-only
field never reaches the voice AI; `forms check` points at a bad x-sensitive."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from quart import Quart
from sqlalchemy import text

from survey_bot.flow.state import CallState
from survey_bot.forms.check import check_document
from survey_bot.forms.load import parse_form
from survey_bot.forms.sensitive import mask
from survey_bot.forms.voice_schema import reask_parameters, voice_parameters
from survey_bot.storage import sealing
from survey_bot.storage.form_versions import form_version_id
from survey_bot.storage.models import Response
from survey_bot.storage.records import new_record
from survey_bot.storage.responses import insert_responses
from survey_bot.utc import now as utc_now
from survey_bot.web.app import create_app
from survey_bot.web.live import call_snapshot
from survey_bot.web.state import state

REPO = Path(__file__).resolve().parent.parent
TOKEN = "sensitive-test-token-01"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SURVEY_BOT = [sys.executable, "-m", "survey_bot"]
FORM_ID = "clinic"
MEMBER = "1234567890"
PUBLIC_KEY = "fW2MMwE3a2n0Zc8Hq5lX0bC3PcVTHYpRKo3i4y7hY1M="
FORM: dict[str, Any] = {
    "title": "Clinic",
    "type": "object",
    "properties": {
        "full_name": {"type": "string", "x-dtmf": False},
        "member_id": {"title": "Member id", "type": "string", "pattern": "^[0-9]{10}$", "x-sensitive": True},
        "pin": {"type": "string", "pattern": "^[0-9]{4}$", "x-sensitive": "keypad"},
    },
    "required": ["full_name", "member_id"],
}


@pytest.fixture
def forms_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "forms"
    folder.mkdir()
    (folder / f"{FORM_ID}.json").write_text(json.dumps(FORM))
    return folder


@pytest.fixture
async def app(database_url: str, forms_dir: Path) -> AsyncIterator[Quart]:
    app = create_app({"database_url": database_url, "telnyx_public_key": PUBLIC_KEY, "admin_token": TOKEN,
                      "forms_dir": forms_dir, "dispatch_commands": False})
    async with app.test_app():
        yield app


@pytest.fixture
def rotated() -> Iterator[None]:
    """Put the process-wide keys back after a test that rotates them."""
    before = os.environ.get("SURVEY_BOT_DATA_KEY", "")
    try:
        yield
    finally:
        sealing.install(before)


async def add_response(app: Quart, answers: dict[str, Any]) -> str:
    """A response written through the write path's storage boundary (insert_responses)."""
    app_state = state(app)
    form = app_state.catalog.forms[FORM_ID]
    async with app_state.sessions() as db, db.begin():
        now = utc_now()
        rid = str(uuid.uuid4())
        record = new_record(rid, FORM_ID, await form_version_id(db, form, now), "incoming", now,
                            state=CallState(response_id=rid, direction="incoming", status="completed",
                                            answers=answers, sources=dict.fromkeys(answers, "ai"),
                                            keypad_attempts=[{"field": name, "n": 1, "status": "valid",
                                                              "digits": f"{value}#"}
                                                             for name, value in answers.items()]),
                            sensitive=form.sensitive_names)
        await insert_responses(db, [record])
    return rid


async def raw_columns(app: Quart, rid: str) -> str:
    """The stored answers and keypad attempts, as the database holds them."""
    async with state(app).engine.connect() as connection:
        stored = (await connection.execute(text("SELECT CAST(answers AS TEXT), CAST(keypad_attempts AS TEXT) "
                                                "FROM responses WHERE id = :id"), {"id": rid})).one()
    return " ".join(map(str, stored))


async def get(app: Quart, path: str) -> str:
    response = await app.test_client().get(path, headers=AUTH)
    body = await response.get_data(as_text=True)
    assert response.status_code == 200, body[:500]
    return body


def test_mask_keeps_the_last_four_only_of_long_digit_strings() -> None:
    assert mask("1234567890") == "••••7890"
    assert mask("12345678") == "••••5678"
    assert mask("1234567") == "••••"
    assert mask("AB12345678") == "••••"
    assert mask(1234567890) == "••••"
    assert mask(None) == "••••"


def test_fields_carry_their_sensitivity_and_keypad_ones_never_reach_the_ai() -> None:
    form = parse_form(FORM, FORM_ID)
    assert [(f.name, f.sensitive) for f in form.fields] == [("full_name", False), ("member_id", True),
                                                            ("pin", "keypad")]
    assert form.sensitive_names == frozenset({"member_id", "pin"})
    parameters = voice_parameters(form)
    assert set(parameters["properties"]) == {"full_name", "member_id"}
    assert "pin" not in json.dumps(parameters)
    assert "pin" not in reask_parameters(form, ["pin", "member_id"], ["pin"])["properties"]


@pytest.mark.parametrize(("field", "value", "pointer"), [
    ("member_id", "yes", "/properties/member_id/x-sensitive"),
    ("member_id", 1, "/properties/member_id/x-sensitive"),
    ("full_name", "keypad", "/properties/full_name/x-sensitive"),  # no keypad to ask it on
])
def test_forms_check_rejects_bad_x_sensitive_with_a_pointer(field: str, value: Any, pointer: str) -> None:
    document = json.loads(json.dumps(FORM))
    document["properties"][field]["x-sensitive"] = value
    problems = [p for p in check_document(document, "clinic.json") if p.severity == "error"]
    assert [p.pointer for p in problems] == [pointer], problems
    assert "x-sensitive" in problems[0].message


def test_sealed_answers_open_after_a_key_rotation(rotated: None) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealing.install(old)
    stored = sealing.seal_answers({"member_id": MEMBER, "n": 3}, frozenset({"member_id"}))
    assert MEMBER not in json.dumps(stored) and stored["n"] == 3
    sealing.install(f"{new},{old}")
    assert sealing.open_answers(stored) == {"member_id": MEMBER, "n": 3}
    assert sealing.open_answers(sealing.seal_answers({"member_id": MEMBER}, frozenset({"member_id"}))) \
        == {"member_id": MEMBER}
    sealing.install(new)
    with pytest.raises(sealing.SealError, match="SURVEY_BOT_DATA_KEY"):
        sealing.open_answers(stored)


async def test_a_sensitive_answer_is_encrypted_masked_and_exported_only_on_request(app: Quart) -> None:
    rid = await add_response(app, {"full_name": "Ada Lovelace", "member_id": MEMBER})
    stored = await raw_columns(app, rid)
    assert MEMBER not in stored and stored.count("fernet:") == 2 and stored.count("Ada Lovelace") == 2

    detail = json.loads(await get(app, f"/api/responses/{rid}"))
    assert detail["answers"]["member_id"] == "••••7890"
    assert [f["value"] for f in detail["fields"] if f["name"] == "member_id"] == ["••••7890"]
    assert [a["digits"] for a in detail["keypad_attempts"]] == ["Ada Lovelace#", "••••"]
    page = json.loads(await get(app, f"/api/forms/{FORM_ID}/responses"))
    assert page["items"][0]["answers"]["member_id"] == "••••7890"
    assert MEMBER not in json.dumps(page) and MEMBER not in json.dumps(detail)

    client = app.test_client()
    await client.post("/dashboard/login", form={"token": TOKEN, "next": "/dashboard/",
                                                "csrf_token": _csrf(await (await client.get("/dashboard/login"))
                                                                    .get_data(as_text=True))})
    html = await (await client.get(f"/dashboard/responses/{rid}")).get_data(as_text=True)
    assert "••••7890" in html and MEMBER not in html

    async with state(app).sessions() as db:
        response = await db.get(Response, rid)
        assert response is not None
        live = call_snapshot(response, state(app).catalog.forms[FORM_ID])
    assert [a["value"] for a in live["answers"] if a["name"] == "member_id"] == ["••••7890"]
    assert MEMBER not in json.dumps(live)

    rows = list(csv.DictReader(io.StringIO(await get(app, f"/api/forms/{FORM_ID}/export.csv"))))
    assert rows[0]["member_id"] == "" and rows[0]["full_name"] == "Ada Lovelace"
    record = json.loads(await get(app, f"/api/forms/{FORM_ID}/export.ndjson"))
    assert "member_id" not in record["answers"] and record["answers"]["full_name"] == "Ada Lovelace"
    assert json.loads(await get(app, "/api/audit"))["items"] == []

    full = list(csv.DictReader(io.StringIO(await get(app, f"/api/forms/{FORM_ID}/export.csv?include_sensitive=true"))))
    assert full[0]["member_id"] == MEMBER
    record = json.loads(await get(app, f"/api/forms/{FORM_ID}/export.ndjson?include_sensitive=true"))
    assert record["answers"]["member_id"] == MEMBER
    audit = json.loads(await get(app, "/api/audit"))["items"]
    assert [(a["action"], a["form_id"], a["rows"]) for a in audit] == [("export_sensitive", FORM_ID, 1)] * 2
    assert audit[0]["actor"].startswith("api:")
    assert "include_sensitive" in await get(app, "/openapi.json")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("SURVEY_BOT_", "TELNYX_"))}
    full.update(env)
    return subprocess.run([*SURVEY_BOT, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=60,
                          check=False)


async def test_cli_export_includes_sensitive_answers_only_when_asked_and_audits_it(
        app: Quart, database_url: str, tmp_path: Path, forms_dir: Path) -> None:
    await add_response(app, {"full_name": "Ada Lovelace", "member_id": MEMBER})
    env = {"SURVEY_BOT_DATABASE_URL": database_url, "SURVEY_BOT_FORMS_DIR": str(forms_dir),
           "SURVEY_BOT_DATA_KEY": os.environ["SURVEY_BOT_DATA_KEY"]}
    plain = _cli(["export", FORM_ID, "--format", "ndjson"], tmp_path, env)
    assert plain.returncode == 0, plain.stderr
    assert MEMBER not in plain.stdout
    full = _cli(["export", FORM_ID, "--include-sensitive"], tmp_path, env)
    assert full.returncode == 0, full.stderr
    assert MEMBER in full.stdout
    audit = json.loads(await get(app, "/api/audit"))["items"]
    assert [(a["action"], a["form_id"], a["rows"]) for a in audit] == [("export_sensitive", FORM_ID, 1)]
    assert audit[0]["actor"].startswith("cli:")


def test_serve_refuses_a_sensitive_form_without_a_data_key(tmp_path: Path, forms_dir: Path) -> None:
    env = {"SURVEY_BOT_FORMS_DIR": str(forms_dir), "TELNYX_PUBLIC_KEY": PUBLIC_KEY}
    result = _cli(["serve", "--port", "0"], tmp_path, env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SURVEY_BOT_DATA_KEY" in lines[0] and "clinic" in lines[0], result.stderr


def test_keys_generate_prints_a_fernet_key(tmp_path: Path) -> None:
    result = _cli(["keys", "generate"], tmp_path, {})
    assert result.returncode == 0, result.stderr
    Fernet(result.stdout.strip().encode())  # a valid key
