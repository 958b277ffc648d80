"""FHIR, on both databases: a clinic's Questionnaire (groups, codings, enableWhen) imported with `forms import-fhir`,
checked, answered by simulated calls (a scenario file), and exported by the CLI and the admin API as
QuestionnaireResponses that validate with fhir.resources and carry the right typed answers under the imported
linkIds; what cannot be mapped is listed; failed responses are left out and sensitive answers only on request."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from quart import Quart

from survey_bot.cli.main import main
from survey_bot.config import Settings
from survey_bot.flow.state import CallState
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.scenario_file import load_scenario_file
from survey_bot.sandbox.simulate import simulate
from survey_bot.storage.form_versions import form_version_id
from survey_bot.storage.records import new_record
from survey_bot.storage.responses import insert_responses
from survey_bot.utc import now as utc_now
from survey_bot.web.app import create_app
from survey_bot.web.state import state

DATA = Path(__file__).parent / "data" / "fhir"
QUESTIONNAIRE = DATA / "clinic_intake.questionnaire.json"
REPO = Path(__file__).resolve().parent.parent
TOKEN = "fhir-test-admin-token-01"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC_KEY = "fW2MMwE3a2n0Zc8Hq5lX0bC3PcVTHYpRKo3i4y7hY1M="
VISIT = "http://example.org/fhir/CodeSystem/visit-reason"


@pytest.fixture
def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, list[str]]:
    """The clinic's Questionnaire imported into a new forms folder, beside a form of our own: (the folder, the
    lines the import printed)."""
    forms = tmp_path / "forms"
    forms.mkdir()
    assert main(["forms", "import-fhir", str(QUESTIONNAIRE), "--out", str(forms / "clinic_intake.json")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert main(["forms", "check", str(forms / "clinic_intake.json")]) == 0
    assert capsys.readouterr().out.startswith("1 form(s) OK: clinic_intake")
    shutil.copy(REPO / "forms" / "appointment_intake.json", forms / "appointment_intake.json")
    return forms, printed


@pytest.fixture
async def app(database_url: str, imported: tuple[Path, list[str]]) -> AsyncIterator[Quart]:
    app = create_app({"database_url": database_url, "telnyx_public_key": PUBLIC_KEY, "admin_token": TOKEN,
                      "forms_dir": imported[0], "dispatch_commands": False})
    async with app.test_app():
        yield app


async def fhir_export(app: Quart, form_id: str, query: str = "") -> list[dict[str, Any]]:
    """The API's FHIR export, each line validated as an R4 QuestionnaireResponse."""
    response = await app.test_client().get(f"/api/forms/{form_id}/export.fhir.ndjson{query}", headers=AUTH)
    body = await response.get_data(as_text=True)
    assert response.status_code == 200, body[:500]
    assert response.content_type.startswith("application/fhir+ndjson")
    assert ".fhir.ndjson" in response.headers["Content-Disposition"]
    resources = [json.loads(line) for line in body.splitlines()]
    for resource in resources:
        QuestionnaireResponse.model_validate(resource)
    return resources


def answers_of(items: list[dict[str, Any]], into: dict[str, Any] | None = None) -> dict[str, Any]:
    """linkId -> its answers (value[x] objects), groups flattened; a group's linkId -> its items' linkIds."""
    found = {} if into is None else into
    for item in items:
        if "item" in item:
            found[item["linkId"]] = [child["linkId"] for child in item["item"]]
            answers_of(item["item"], found)
        else:
            found[item["linkId"]] = item["answer"]
    return found


def follows(items: list[dict[str, Any]], questions: list[dict[str, Any]]) -> bool:
    """Whether every answered item is an item of the Questionnaire at the same place, of its answer type."""
    by_link = {q["linkId"]: q for q in questions}
    kinds = {"boolean": "valueBoolean", "integer": "valueInteger", "decimal": "valueDecimal", "date": "valueDate",
             "time": "valueTime", "string": "valueString", "text": "valueString"}
    for item in items:
        question = by_link.get(item["linkId"])
        if question is None:
            return False
        if "item" in item:
            if question["type"] != "group" or not follows(item["item"], question["item"]):
                return False
            continue
        options = [next(iter(o)) for o in question.get("answerOption", [])]
        wanted = options[0] if options else kinds[question["type"]]
        if any(list(answer) != [wanted] for answer in item["answer"]):
            return False
    return True


async def test_a_questionnaire_round_trips_through_calls_into_valid_responses(
        app: Quart, database_url: str, tmp_path: Path, imported: tuple[Path, list[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    forms, printed = imported
    assert printed[:3] == [
        "linkId 'notice': display text, not a question: not asked",
        "linkId 'card': an attachment cannot be given on a phone call: not asked",
        "linkId 'pregnant': enableWhen reads '1.3' from another group; a form's condition reads the questions of "
        "its own group: the question is always asked",
    ]
    assert printed[3].startswith(f"wrote {forms / 'clinic_intake.json'} (form clinic_intake); 3 note(s)")
    catalog = load_catalog(Settings(forms_dir=forms))
    outcomes = await simulate([load_scenario_file(DATA / "clinic_intake.yaml", catalog.forms)], database_url,
                              {"forms_dir": forms, "admin_token": TOKEN}, check=True)
    assert [o.passed for o in outcomes] == [True, True], [(o.name, o.error, o.mismatches) for o in outcomes]

    unauthorised = await app.test_client().get("/api/forms/clinic_intake/export.fhir.ndjson")
    assert unauthorised.status_code == 401
    completed, stopped = await fhir_export(app, "clinic_intake")
    assert [completed["status"], stopped["status"]] == ["completed", "stopped"]
    assert {completed["id"], stopped["id"]} == {o.response_id for o in outcomes}
    assert completed["questionnaire"] == "http://example.org/fhir/Questionnaire/clinic-intake|2.1"
    assert completed["authored"].endswith("Z")
    questions = json.loads(QUESTIONNAIRE.read_text())["item"]
    assert follows(completed["item"], questions) and follows(stopped["item"], questions)
    got = answers_of(completed["item"])
    assert got["1"] == ["1.1", "1.2", "1.3"]  # the group, nested as in the Questionnaire
    assert got["1.1"] == [{"valueString": "Ada Lovelace"}]
    assert got["1.2"] == [{"valueDate": "1985-12-10"}]
    assert got["1.3"] == [{"valueCoding": {"system": "http://hl7.org/fhir/administrative-gender", "code": "female",
                                           "display": "Female"}}]
    assert got["smoker"] == [{"valueBoolean": True}]
    assert got["smoker.per-day"] == [{"valueInteger": 12}]  # typed on the keypad
    assert got["reason"] == [{"valueCoding": {"system": VISIT, "code": "new-symptoms", "display": "New symptoms"}}]
    assert got["temperature"] == [{"valueDecimal": 38.2}]
    assert got["pain"] == [{"valueInteger": 2}]
    assert got["callback"] == [{"valueString": "morning"}]
    assert got["callback.time"] == [{"valueTime": "09:30:00"}]
    assert list(got)[:4] == ["1", "1.1", "1.2", "1.3"]
    assert answers_of(stopped["item"]) == {"1": ["1.1", "1.2"], "1.1": [{"valueString": "Grace Hopper"}],
                                           "1.2": [{"valueDate": "1906-12-09"}], "smoker": [{"valueBoolean": False}],
                                           "pain": [{"valueInteger": 0}]}

    # the CLI writes the same resources
    out = tmp_path / "responses.ndjson"
    monkeypatch.setenv("SURVEY_BOT_DATABASE_URL", database_url)
    monkeypatch.setenv("SURVEY_BOT_FORMS_DIR", str(forms))
    assert await asyncio.to_thread(main, ["export", "clinic_intake", "--format", "fhir", "--out", str(out)]) == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == [completed, stopped]


async def add_response(app: Quart, form_id: str, status: str, answers: dict[str, Any]) -> str:
    """A response stored through the write path's storage boundary (answers by dotted name; sensitive ones
    sealed)."""
    app_state = state(app)
    form = app_state.catalog.forms[form_id]
    async with app_state.sessions() as db, db.begin():
        now, rid = utc_now(), str(uuid.uuid4())
        record = new_record(rid, form_id, await form_version_id(db, form, now), "incoming", now,
                            state=CallState(response_id=rid, direction="incoming", status=status, answers=answers,
                                            sources=dict.fromkeys(answers, "ai")),
                            sensitive=form.sensitive_names)
        await insert_responses(db, [record])
    return rid


async def test_a_form_of_our_own_exports_failed_left_out_sensitive_only_on_request(app: Quart) -> None:
    answers = {"full_name": "Ada Lovelace", "date_of_birth": "1985-12-10", "visit_reason": "new-symptoms",
               "preferred_slot.date": "2026-12-03", "preferred_slot.period": "morning", "new_patient": True,
               "symptoms": "A cough"}
    done = await add_response(app, "appointment_intake", "completed", answers)
    going = await add_response(app, "appointment_intake", "in_progress", {"full_name": "Grace Hopper"})
    await add_response(app, "appointment_intake", "failed", {})
    plain = await fhir_export(app, "appointment_intake")
    assert [(r["id"], r["status"]) for r in plain] == [(done, "completed"), (going, "in-progress")]
    assert plain[0]["questionnaire"] == "urn:survey-bot:form:appointment_intake"
    got = answers_of(plain[0]["item"])
    assert "date_of_birth" not in got  # x-sensitive: left out
    assert got["preferred_slot"] == ["preferred_slot.date", "preferred_slot.period"]
    assert got["preferred_slot.date"] == [{"valueDate": "2026-12-03"}]
    assert got["visit_reason"] == [{"valueCoding": {"code": "new-symptoms"}}]
    assert got["new_patient"] == [{"valueBoolean": True}]
    assert plain[0]["item"][0] == {"linkId": "full_name", "text": "Full name",
                                   "answer": [{"valueString": "Ada Lovelace"}]}
    assert await fhir_export(app, "appointment_intake", "?status=failed") == []
    full = await fhir_export(app, "appointment_intake", "?include_sensitive=true")
    assert answers_of(full[0]["item"])["date_of_birth"] == [{"valueDate": "1985-12-10"}]
    response = await app.test_client().get("/api/audit", headers=AUTH)
    audit = (await response.get_json())["items"]
    assert [(a["action"], a["form_id"], a["rows"]) for a in audit] == [
        ("export_sensitive", "appointment_intake", 2)]  # the failed response is not in it
    assert "fhir export" in audit[0]["detail"]


def test_the_clinic_questionnaire_itself_is_valid_fhir() -> None:
    Questionnaire.model_validate(json.loads(QUESTIONNAIRE.read_text()))
