"""Forms that mean what they say, end to end on SQLite and PostgreSQL: the skip-logic scenario files play
through the real app and the fake Telnyx; then what they stored is read back as users read it: the CSV and
NDJSON exports, the response API (provenance) and the dashboard (the funnel's "not applicable", the
`then`-declared field)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from quart import Quart

from survey_bot.config import Settings
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.scenario_file import load_scenario_file
from survey_bot.sandbox.simulate import CallOutcome, simulate
from survey_bot.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "forms"
CATALOG = load_catalog(Settings(forms_dir=FORMS))
TOKEN = "form-logic-admin-token"
FILES = [Path(__file__).parent / "scenarios" / "form_logic.yaml", FORMS / "scenarios" / "appointment_intake.json"]
BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def play(database_url: str) -> dict[str, CallOutcome]:
    files = [load_scenario_file(path, CATALOG.forms) for path in FILES]
    outcomes = await simulate(files, database_url, {"forms_dir": FORMS, "admin_token": TOKEN}, check=True)
    failed = {o.name: o.error or [m.as_json() for m in o.mismatches] for o in outcomes if not o.passed}
    assert not failed, failed
    return {o.name: o for o in outcomes}


def app_on(database_url: str) -> Quart:
    return create_app({"database_url": database_url, "admin_token": TOKEN, "forms_dir": FORMS,
                       "dispatch_commands": False, "telnyx_public_key": "a" * 43 + "="})


async def get(app: Quart, path: str) -> str:
    response = await app.test_client().get(path, headers=BEARER)
    assert response.status_code == 200, (path, response.status_code)
    return await response.get_data(as_text=True)


async def test_skip_logic_calls_are_stored_exported_and_shown(database_url: str) -> None:
    outcomes = await play(database_url)
    declined = outcomes["an optional question declined with star"].response_id
    detractor = outcomes["a detractor whose reason the AI missed is asked it on the keypad"].response_id
    promoter = outcomes["a promoter is never asked the detractor question, even with keys scripted for it"].response_id
    intake = outcomes["skip logic: new symptoms are described; the name the AI missed is asked again; "
                      "the keypad reads the date back"].response_id
    app = app_on(database_url)
    async with app.test_app():
        rows = {row["response_id"]: row for row in csv.DictReader(io.StringIO(
            await get(app, "/api/forms/customer_satisfaction/export.csv?with_sources=true")))}
        # the branch's fields are columns; a declined optional answer is the reserved value
        assert rows[declined]["would_recommend"] == ".declined"
        assert rows[declined]["would_recommend.source"] == "declined"
        assert rows[detractor]["improve_first"] == "website" and rows[detractor]["improve_first.source"] == "dtmf"
        assert rows[promoter]["improve_first"] == "" and rows[promoter]["improve_first.source"] == "not_applicable"

        records = {r["response_id"]: r for r in map(json.loads, (await get(
            app, "/api/forms/customer_satisfaction/export.ndjson")).splitlines())}
        assert records[declined]["answers"]["would_recommend"] is None
        assert records[declined]["declined"] == ["would_recommend"]
        assert records[promoter]["not_applicable"] == ["improve_first", "topics"]
        assert records[detractor]["provenance"]["improve_first"]["attempt"] == "keypad 1"

        detail: dict[str, Any] = json.loads(await get(app, f"/api/responses/{intake}"))
        fields = {f["name"]: f for f in detail["fields"]}
        assert fields["symptoms"]["value"] == "A dry cough for two weeks." and fields["symptoms"]["relevant"]
        assert fields["symptoms"]["required"] and fields["symptoms"]["state"] == "answered"
        assert fields["full_name"]["attempt"] == "reask 1" and fields["full_name"]["source"] == "ai"
        assert isinstance(fields["full_name"]["turn"], int)
        assert fields["date_of_birth"]["attempt"] == "keypad 2"  # entered again after the read-back's 2

        client = app.test_client()
        await client.post("/dashboard/login", form={"token": TOKEN, "csrf_token": await _csrf(client)})
        page = await (await client.get(f"/dashboard/responses/{intake}")).get_data(as_text=True)
        symptoms = re.search(r'<tr data-field="symptoms"[^>]*>(.*?)</tr>', page, re.S)
        assert symptoms and "A dry cough for two weeks." in symptoms.group(1)
        funnel = await (await client.get("/dashboard/forms/customer_satisfaction")).get_data(as_text=True)
        improve = re.search(r'<tr data-field="improve_first">(.*?)</tr>', funnel, re.S)
        assert improve, "no funnel row for the branch's field"
        # the four calls scoring 7 or more never had the question: counted apart, not as reached or breakoffs;
        # of the five that had it, one hung up at the question before it
        counts = dict(re.findall(r'data-col="([a-z-]+)">(\d+)<', improve.group(1)))
        assert (counts["not-applicable"], counts["reached"], counts["breakoffs"]) == ("4", "4", "0"), counts


async def _csrf(client: Any) -> str:
    page = await (await client.get("/dashboard/login")).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)
