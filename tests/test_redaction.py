"""Redaction of sensitive answers, end to end on both databases: a clinic's member id said aloud (in every
spelling, in the AI's transcript and partial results) and typed on the keypad (a refused entry, then the value,
read back) leaves no copy in clear in the webhook bodies, the stored transcripts, the outbox, the logs, the API,
the dashboard, the default exports, nor (SQLite) in the database file's bytes; the --include-sensitive export has
it (audited, on the dashboard's audit page), and it still opens after a key rotation. The spellings themselves
are checked per language on the pure redactor."""

from __future__ import annotations

import html
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from quart import Quart
from sqlalchemy import text

from survey_bot.forms.load import parse_form
from survey_bot.forms.redaction import Redactor, blank_keys, redactor
from survey_bot.sandbox.scenario_file import load_scenario_document
from survey_bot.sandbox.simulate import simulate
from survey_bot.storage import sealing, sqlite_driver
from survey_bot.storage.engine import make_engine
from survey_bot.web.app import create_app
from survey_bot.web.state import state

TOKEN = "redaction-test-token-01"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FORM_ID = "clinic"
MEMBER = "1234567890"
REFUSED = "123456789"  # typed first, one digit short: refused, and a substring of every digit spelling below
SPELLINGS = [MEMBER, REFUSED, "1 2 3 4 5 6 7 8 9 0", "1-2-3-4-5-6-7-8-9-0", "123-456-7890",
             "one two three four five six seven eight nine zero", "one-two-three"]
FORM: dict[str, Any] = {
    "title": "Clinic",
    "type": "object",
    "properties": {
        "full_name": {"type": "string", "x-dtmf": False},
        "member_id": {"title": "Member id", "type": "string", "pattern": "^[0-9]{10}$", "x-sensitive": True,
                      "x-confirm": True},
    },
    "required": ["full_name", "member_id"],
}
SAID = "said aloud"
TYPED = "typed on the keypad"
SCENARIO: dict[str, Any] = {"form": FORM_ID, "calls": [
    {"name": SAID, "to": "+15550100001", "ai": [
        {"history": [{"role": "assistant", "content": "What is your member id?"},
                     {"role": "user", "content": "It's 1234567890, so 1 2 3 4 5 6 7 8 9 0."}]},
        {"history": [{"role": "assistant", "content": "Could you repeat it?"},
                     {"role": "user", "content": "123-456-7890. One two three four five six seven eight nine zero."}]},
        {"partial": {"full_name": "Ada Lovelace", "member_id": MEMBER}},
        {"history": [{"role": "assistant", "content": "Thanks, 1-2-3-4-5-6-7-8-9-0, right?"},
                     {"role": "user", "content": "Yes, ONE-TWO-THREE-FOUR-FIVE-SIX-SEVEN-EIGHT-NINE-ZERO."}]},
        {"end": "valid", "result": {"full_name": "Ada Lovelace", "member_id": MEMBER}}],
     "expect": {"status": "completed", "answers": {"member_id": MEMBER}, "sources": {"member_id": "ai"}}},
    {"name": TYPED, "to": "+15550100001", "ai": [
        {"history": [{"role": "user", "content": "I'm Grace Hopper; I'll type the id."}]},
        {"end": "valid", "result": {"full_name": "Grace Hopper"}}],
     "keypad": {"member_id": [f"{REFUSED}#", f"{MEMBER}#"]},
     "expect": {"status": "completed", "answers": {"member_id": MEMBER}, "sources": {"member_id": "dtmf"}}},
]}


def absent(where: str, found: str) -> None:
    lowered = found.lower()
    leaked = [spelling for spelling in SPELLINGS if spelling.lower() in lowered]
    assert not leaked, f"{where} holds {leaked}: {found[:3000]}"


@pytest.mark.parametrize(("locale", "said"), [
    ("en-US", "my number is One Two Three Four Five Six Seven Eight Nine Zero!"),
    ("en-US", "1234567890"), ("en-US", "1 2 3 4 5 6 7 8 9 0"), ("en-US", "123-456-7890"), ("en-US", "123 456 7890"),
    ("es-US", "uno dos tres cuatro cinco seis siete ocho nueve cero"),
    ("es-US", "one two three four five six seven eight nine zero"),  # English too, whatever the locale
    ("fr-FR", "un, deux, trois, quatre, cinq, six, sept, huit, neuf, zéro"),
    ("de-DE", "eins zwei drei vier fünf sechs sieben acht neun null"),
    ("pt-BR", "um dois três quatro cinco seis sete oito nove zero"),
])
def test_every_spelling_of_a_digit_string_is_redacted(locale: str, said: str) -> None:
    hidden = redactor([("member_id", MEMBER)], locale).text(said)
    assert "[redacted:member_id]" in hidden
    assert not re.search(r"\d", hidden) and "zero" not in hidden.lower() and "nove" not in hidden.lower(), hidden


def test_redaction_keeps_other_numbers_words_and_the_envelope() -> None:
    hide = redactor([("member_id", MEMBER), ("name", "Ada Lovelace")], "en")
    assert hide.text("12345678901 and someone two three") == "12345678901 and someone two three"
    assert hide.text("ada  lovelace said 1234567890") == "[redacted:name] said [redacted:member_id]"
    body = json.dumps({"data": {"id": MEMBER, "occurred_at": "x", "payload": {
        "result": {"member_id": 1234567890}, "message_history": [{"role": "user", "content": "1 2 3 4 5 6 7 8 9 0"}]}}})
    redacted = json.loads(hide.body(body))
    assert redacted["data"]["id"] == MEMBER  # the envelope's ids stay
    assert redacted["data"]["payload"]["result"]["member_id"] == "[redacted:member_id]"
    assert redacted["data"]["payload"]["message_history"][0]["content"] == "[redacted:member_id]"
    assert hide.body('{"a": "nothing here"}') == '{"a": "nothing here"}'  # unchanged text when nothing is found
    assert not Redactor([("flag", True), ("none", None)], "en")  # nothing findable in text: nothing to do
    assert json.loads(blank_keys('{"data": {"payload": {"digits": "123#"}}}', frozenset({"digits"}), "pin")) == \
        {"data": {"payload": {"digits": "[redacted:pin]"}}}


async def _get(client: Any, path: str, headers: dict[str, str] | None = None) -> str:
    response = await client.get(path, headers=headers)
    body = await response.get_data(as_text=True)
    assert response.status_code == 200, (path, body[:300])
    return str(body)


async def _signed_in(app: Quart) -> Any:
    client = app.test_client()
    page = await _get(client, "/dashboard/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    await client.post("/dashboard/login", form={"token": TOKEN, "next": "/dashboard/", "csrf_token": found.group(1)})
    return client


async def _stored(app: Quart) -> dict[str, str]:
    """What the database holds, table by table, as text."""
    queries = {"webhook_events": "SELECT body FROM webhook_events",
               "responses": "SELECT CAST(message_history AS TEXT), CAST(answers AS TEXT), "
                            "CAST(keypad_attempts AS TEXT), CAST(readback AS TEXT), CAST(failures AS TEXT) "
                            "FROM responses",
               "commands": "SELECT CAST(arguments AS TEXT), outcome FROM commands"}
    found = {}
    async with state(app).engine.connect() as connection:
        for table, query in queries.items():
            found[table] = "\n".join(" ".join(map(str, row)) for row in (await connection.execute(text(query))).all())
    return found


async def test_a_sensitive_member_id_said_aloud_and_typed_is_kept_only_sealed(
        database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite: every commit copies its pages into the database file at once, so the text stored before the member
    # id was known reaches the file before it is rewritten (what secure_delete must then overwrite)
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY", 0.0)
    forms_dir = tmp_path / "forms"
    forms_dir.mkdir()
    (forms_dir / f"{FORM_ID}.json").write_text(json.dumps(FORM))
    scenario = load_scenario_document(SCENARIO, "clinic.yaml", {FORM_ID: parse_form(FORM, FORM_ID)})
    caplog.set_level(logging.DEBUG, logger="survey_bot")
    outcomes = {o.name: o for o in await simulate([scenario], database_url,
                                                  {"forms_dir": forms_dir, "admin_token": TOKEN}, check=True)}
    assert all(o.passed for o in outcomes.values()), [(o.error, o.mismatches) for o in outcomes.values()]
    assert caplog.records
    absent("the logs", "\n".join(record.getMessage() for record in caplog.records))

    app = create_app({"database_url": database_url, "admin_token": TOKEN, "forms_dir": forms_dir,
                      "dispatch_commands": False, "telnyx_public_key": "a" * 43 + "="})
    async with app.test_app():
        stored = await _stored(app)
        assert stored["webhook_events"].count("[redacted:member_id]") >= 6, stored["webhook_events"]
        assert "Ada Lovelace" in stored["webhook_events"]  # the rest of what was said stays
        assert "[redacted:member_id]" in stored["responses"]
        for table, found in stored.items():
            absent(table, found)
        assert stored["commands"].count("{}") >= 2  # the read-back and the retry, sealed, then cleared once sent

        client = app.test_client()
        for name in (SAID, TYPED):
            rid = outcomes[name].response_id
            detail = await _get(client, f"/api/responses/{rid}", AUTH)
            absent("the API", detail)
            assert json.loads(detail)["answers"]["member_id"] == "••••7890"
        absent("the response list", await _get(client, f"/api/forms/{FORM_ID}/responses", AUTH))
        absent("the CSV export", await _get(client, f"/api/forms/{FORM_ID}/export.csv", AUTH))
        absent("the NDJSON export", await _get(client, f"/api/forms/{FORM_ID}/export.ndjson", AUTH))
        dashboard = await _signed_in(app)
        for path in (f"/dashboard/responses/{outcomes[SAID].response_id}",
                     f"/dashboard/responses/{outcomes[TYPED].response_id}", f"/dashboard/forms/{FORM_ID}"):
            absent(path, await _get(dashboard, path))

        old = Fernet.generate_key().decode()
        sealing.install(f"{old},{sealing_keys()}")  # a rotation: a new key first, the old one kept after it
        try:
            full = await _get(client, f"/api/forms/{FORM_ID}/export.csv?include_sensitive=true", AUTH)
        finally:
            sealing.install(sealing_keys())
        assert full.count(MEMBER) == 2
        audit = json.loads(await _get(client, "/api/audit", AUTH))["items"]
        assert [(a["action"], a["form_id"], a["rows"]) for a in audit] == [("export_sensitive", FORM_ID, 2)]
        page = await _get(dashboard, "/dashboard/audit")
        assert "export_sensitive" in page and FORM_ID in page and html.escape(audit[0]["actor"]) in page
    if database_url.startswith("sqlite"):
        path = Path(database_url.split(":///", 1)[1])
        await make_engine(database_url).dispose()
        files = [path, *(p for p in (Path(f"{path}-wal"),) if p.exists())]
        for file in files:
            content = file.read_bytes().decode("latin-1")
            absent(f"the bytes of {file.name}", content)
        assert "Grace Hopper" in path.read_bytes().decode("latin-1")  # the file read is the call's


def sealing_keys() -> str:
    """The process's keys, as the tests' conftest installed them."""
    return os.environ["SURVEY_BOT_DATA_KEY"]
