"""Campaigns in scenario files, end to end on both databases: a file's `campaign` is created as `campaign create`
creates one, dialled by the app's scheduler through the fake Telnyx with each attempt's scripted callee, and every
contact's disposition, dials and response are checked; a closed window ends in not_attempted; mistakes in the file
are reported with JSON pointers before anything plays."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from survey_bot.campaigns.settings import DAYS
from survey_bot.config import Settings
from survey_bot.errors import ScenarioError
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.campaign_runs import CampaignOutcome, simulate_campaigns
from survey_bot.sandbox.scenario_file import load_scenario_document, load_scenario_file
from survey_bot.sandbox.scenario_runs import play
from survey_bot.utc import now as utc_now

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "callees"
CATALOG = load_catalog(Settings(forms_dir=DATA))
BUNDLED_CATALOG = load_catalog(Settings(forms_dir=ROOT / "forms"))
OVERRIDES = {"forms_dir": DATA, "admin_token": "campaign-scenario-token"}


def failures(run: CampaignOutcome) -> dict[str, Any]:
    return {c.name: [m.as_json() for m in c.mismatches] for c in run.contacts if not c.passed} | \
        ({"campaign": run.error} if run.error else {})


async def test_every_disposition_plays_as_the_file_expects(database_url: str) -> None:
    loaded = load_scenario_file(DATA / "campaign.yaml", CATALOG.forms)
    [run] = await simulate_campaigns([loaded], database_url, OVERRIDES, check=True)
    assert run.passed, failures(run)
    assert all(contact.checked for contact in run.contacts) and not run.cancelled
    assert {c.name: c.disposition for c in run.contacts} == {
        "completes": "complete", "two answers of three, then hangs up": "partial",
        "one answer, then hangs up twice": "break_off", "keypad breakoff, resumed on the keypad": "complete",
        "presses the opt-out key": "refusal", "hangs up during the disclosure": "refusal",
        "never answers": "no_answer", "always busy": "busy", "an answering machine": "machine",
        "a number that does not exist": "invalid_number"}
    assert run.report is not None and run.report.contacts == 10 and run.report.open_contacts == 0


async def test_a_keypad_breakoff_is_resumed_with_the_rest_asked(database_url: str) -> None:
    """The re-dial after a hang-up during the keypad questions asks what is left (it used to stay silent)."""
    document = {"form": "outreach", "campaign": {"amd": False, "contacts": [{
        "name": "hangs up at the second keypad question", "phone": "+12125550720", "timezone": "UTC",
        "attempts": [{"ai": [{"end": "invalid"}], "keypad": {"nps": ["6#"]},
                      "hangup": {"keypad_field": "satisfaction"}},
                     {"ai": [{"end": "invalid"}], "keypad": {"satisfaction": ["2"], "would_return": ["2"]}}],
        "expect": {"disposition": "complete", "outcomes": ["break_off", "complete"], "status": "completed",
                   "answers": {"nps": 6, "would_return": False}}}]}}
    [run] = await simulate_campaigns([load_scenario_document(document, "<test>", CATALOG.forms)], database_url,
                                     OVERRIDES, check=True)
    assert run.passed, failures(run)
    [contact] = run.contacts
    assert contact.sources == {"nps": "dtmf", "satisfaction": "dtmf", "would_return": "dtmf"}


async def test_a_closed_window_cancels_and_leaves_contacts_not_attempted(database_url: str) -> None:
    closed_day = DAYS[((utc_now() + timedelta(days=3)).weekday())]  # never today, whatever the hour
    document = {"form": "outreach", "campaign": {"days": closed_day, "contacts": [
        {"name": name, "phone": phone, "timezone": "UTC", "attempts": [{"ai": [{"end": "invalid"}]}],
         "expect": {"disposition": "not_attempted", "attempts": 0, "outcomes": []}}
        for name, phone in (("first", "+12125550730"), ("second", "+12125550731"))]}}
    [run] = await simulate_campaigns([load_scenario_document(document, "<test>", CATALOG.forms)], database_url,
                                     OVERRIDES, check=True)
    assert run.passed, failures(run)
    assert run.cancelled and run.calls == 0
    assert run.report is not None and [(d.disposition, d.count) for d in run.report.dispositions
                                       if d.count] == [("not_attempted", 2)]


async def test_the_bundled_demo_campaign_plays_as_it_expects(database_url: str) -> None:
    loaded = load_scenario_file(ROOT / "forms" / "scenarios" / "purchase_follow_up_campaign.yaml",
                                BUNDLED_CATALOG.forms)
    assert loaded.campaign is not None and loaded.campaign.notes == ()  # a campaign-ready form: no note
    [run] = await simulate_campaigns([loaded], database_url, {**OVERRIDES, "forms_dir": ROOT / "forms"}, check=True)
    assert run.passed, failures(run)
    assert (len(run.contacts), run.calls) == (12, 21)
    assert run.report is not None and round(run.report.rates["RR1"] * 100, 1) == 72.7


def test_a_form_without_a_disclosure_plays_with_a_note() -> None:
    document = {"form": "customer_satisfaction", "campaign": {"contacts": [{"name": "a", "phone": "+12125550750"}]}}
    loaded = load_scenario_document(document, "<test>", BUNDLED_CATALOG.forms)
    assert loaded.campaign is not None
    [note] = loaded.campaign.notes
    assert "x-disclosure" in note and "`campaign create` would refuse it" in note, note


def problems(document: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario_document(document, "<test>", CATALOG.forms)
    return {p.pointer: p.message for p in caught.value.problems}


def campaign(**block: Any) -> dict[str, Any]:
    contacts = block.pop("contacts", [{"name": "a", "phone": "+12125550740"}])
    return {"form": "outreach", "campaign": {**block, "contacts": contacts}}


def test_mistakes_are_reported_with_pointers_in_campaign_create_terms() -> None:
    assert problems(campaign(window="9-5")) == {"/campaign/window": "'9-5' is not HH:MM-HH:MM, 24-hour, start before "
                                                                     "end (e.g. 09:00-20:00)"}
    assert "/campaign/retry-after" in problems(campaign(**{"retry-after": "soon"}))
    found = problems(campaign(contacts=[
        {"name": "ok", "phone": "+12125550741"}, {"name": "bad", "phone": "12"},
        {"name": "twice", "phone": "+1 212 555 0741"},
        {"name": "zone", "phone": "+12125550742", "timezone": "Mars/Base"},
        {"name": "keys", "phone": "+12125550743", "attempts": [{"keypad": {"colour": ["1"]}}]},
        {"name": "expects", "phone": "+12125550744", "expect": {"answers": {"colour": "red"}}}]))
    assert found == {
        "/campaign/contacts/1": "phone '12' is not a phone number",
        "/campaign/contacts/2/phone": "+12125550741 is also contact 0's number (the import merges them): give each "
                                      "contact its own number",
        "/campaign/contacts/3": "timezone 'Mars/Base' is not an IANA time zone like America/New_York",
        "/campaign/contacts/4/attempts/0/keypad/colour": "'colour' is not a field of the form",
        "/campaign/contacts/5/expect/answers/colour": "'colour' is not a field of the form"}


def test_the_schema_speaks_of_the_file() -> None:
    assert problems({"form": "outreach"})  # neither calls nor a campaign
    found = problems(campaign(contacts=[{"name": "x", "phone": "+12125550745", "attempts": [{"callee": "robot"}],
                                         "expect": {"disposition": "maybe"}}], colour="red"))
    assert set(found) == {"/campaign", "/campaign/contacts/0/attempts/0/callee",
                          "/campaign/contacts/0/expect/disposition"}
    assert "unknown key" in found["/campaign"]


async def test_json_output_lists_campaigns_and_a_difference_exits_1(sqlite_url: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("form: outreach\ncampaign:\n  contacts:\n    - name: busy line\n      phone: '+12125550750'\n"
                     "      timezone: UTC\n      attempts: [{callee: busy}, {callee: busy}, {callee: busy}]\n"
                     "      expect: {disposition: complete, attempts: 3}\n", encoding="utf-8")
    code = await play([wrong], DATA, sqlite_url, check=True, as_json=True)
    printed = json.loads(capsys.readouterr().out)
    assert code == 1 and printed["passed"] is False and printed["calls"] == []
    [run] = printed["campaigns"]
    [contact] = run["contacts"]
    assert (contact["disposition"], contact["outcomes"]) == ("busy", ["busy", "busy", "busy"])
    assert contact["mismatches"] == [{"key": "disposition", "expected": "complete", "got": "busy"}]
    assert run["report"]["contacts"] == 1
