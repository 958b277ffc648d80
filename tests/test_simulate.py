"""`survey-bot simulate`: a form's tests as data. Scenario files play through the real app and the fake Telnyx on
loopback (in-process here, SQLite: the storage paths are tested on both databases elsewhere); their
expectations are compared key by key; a file that is not valid is refused with JSON pointers before any call
plays; `--example` writes a file that passes as printed; the CLI's exit statuses say which happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from survey_bot.config import Settings
from survey_bot.errors import ScenarioError
from survey_bot.forms.model import Form
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.examples import example_document
from survey_bot.sandbox.scenario_file import load_scenario_document, load_scenario_file
from survey_bot.sandbox.scenario_runs import example
from survey_bot.sandbox.simulate import CallOutcome, simulate

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "forms"
BUNDLED = sorted((FORMS / "scenarios").glob("*.json"))
TEST_SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*"))
CATALOG = load_catalog(Settings(forms_dir=FORMS))
OVERRIDES = {"forms_dir": FORMS, "admin_token": "scenario-admin-token"}


def survey(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"form": "customer_satisfaction", "calls": list(calls)}


async def play(document: dict[str, Any], url: str) -> list[CallOutcome]:
    loaded = load_scenario_document(document, "<test>", CATALOG.forms)
    return await simulate([loaded], url, OVERRIDES, check=True)


@pytest.mark.parametrize("path", BUNDLED + TEST_SCENARIOS, ids=lambda p: p.name)
async def test_scenario_files_play_as_they_expect(path: Path, sqlite_url: str) -> None:
    outcomes = await simulate([load_scenario_file(path, CATALOG.forms)], sqlite_url, OVERRIDES, check=True)
    assert outcomes and all(o.checked for o in outcomes)
    failed = {o.name: o.error or [m.as_json() for m in o.mismatches] for o in outcomes if not o.passed}
    assert not failed, failed


async def test_wrong_expectations_are_reported_key_by_key(sqlite_url: str) -> None:
    [outcome] = await play(survey({
        "name": "wrong on purpose",
        "ai": [{"partial": {"nps": 9}}, {"end": "valid", "result": {"nps": 9, "satisfaction": "satisfied"}}],
        "keypad": {"would_recommend": ["1"]},
        "expect": {"status": "partial", "answers": {"nps": 10, "would_recommend": 1, "satisfaction": "satisfied"},
                   "sources": {"nps": "dtmf"}, "asked_on_keypad": []}}), sqlite_url)
    assert outcome.status == "completed" and not outcome.passed
    assert [m.as_json() for m in outcome.mismatches] == [
        {"key": "status", "expected": "partial", "got": "completed"},
        {"key": "answers.nps", "expected": 10, "got": 9},
        {"key": "answers.would_recommend", "expected": 1, "got": True},  # 1 is not true
        {"key": "sources.nps", "expected": "dtmf", "got": "ai"},
        {"key": "asked_on_keypad", "expected": [], "got": ["would_recommend"]},
    ]


async def test_a_timeout_inside_one_prompt_is_repeated_by_telnyx_not_asked_again(sqlite_url: str) -> None:
    [outcome] = await play(survey({
        "name": "silence, then the digits, within one prompt",
        "ai": [{"end": "valid", "result": {"satisfaction": "satisfied", "would_recommend": True}}],
        "keypad": {"nps": ["timeout", "timeout", "7#"]},
        "expect": {"status": "completed", "answers": {"nps": 7}, "asked_on_keypad": ["nps"]}}), sqlite_url)
    assert outcome.passed, outcome.mismatches
    assert [(a["field"], a["n"], a["status"]) for a in outcome.keypad_attempts] == [("nps", 1, "valid")]


@pytest.mark.parametrize(("callee", "cause"), [("busy", "user_busy"), ("no_answer", "no_answer"),
                                               ("invalid_number", "not_found")])
async def test_an_outbound_call_nobody_takes_fails_with_its_cause(sqlite_url: str, callee: str, cause: str) -> None:
    [outcome] = await play(survey({"name": callee, "direction": "outbound", "to": "+15558880009", "callee": callee,
                                   "expect": {"status": "failed", "asked_on_keypad": []}}), sqlite_url)
    assert outcome.passed and outcome.hangup_cause == cause


async def test_a_hangup_at_a_keypad_question_stops_the_call_there(sqlite_url: str) -> None:
    [outcome] = await play(survey({
        "name": "leaves at satisfaction",
        "ai": [{"end": "invalid"}],
        "keypad": {"nps": ["9#"]},
        "hangup": {"keypad_field": "satisfaction"},
        "expect": {"status": "abandoned", "answers": {"nps": 9}, "asked_on_keypad": ["nps", "satisfaction"]}}),
        sqlite_url)
    assert outcome.passed, outcome.mismatches


@pytest.mark.parametrize("form_id", sorted(CATALOG.forms))
async def test_example_files_pass_as_printed(form_id: str, sqlite_url: str, tmp_path: Path) -> None:
    document = await example(form_id, FORMS)
    calls = document["calls"]
    assert [c["expect"]["status"] for c in calls] == ["completed", "completed", "abandoned"]
    assert calls[0]["expect"]["asked_on_keypad"] == [] and len(calls[1]["expect"]["asked_on_keypad"]) >= 1
    path = tmp_path / f"{form_id}.json"
    path.write_text(json.dumps(document))  # as the user saves what `simulate --example` printed
    outcomes = await simulate([load_scenario_file(path, CATALOG.forms)], sqlite_url, OVERRIDES, check=True)
    assert all(o.passed for o in outcomes), [(o.name, o.mismatches) for o in outcomes]


def problems(text: str, tmp_path: Path, suffix: str = ".json") -> list[str]:
    path = tmp_path / f"scenario{suffix}"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario_file(path, CATALOG.forms)
    return [f"{p.pointer or '/'}: {p.message}" for p in caught.value.problems]


@pytest.mark.parametrize(("text", "suffix", "expected"), [
    ('{"form": "customer_satisfaction", "calls": [', ".json", ["/: invalid JSON at line 1 column 45"]),
    ("form: [unclosed\n", ".yaml", ["/: invalid YAML at line 2 column 1"]),
    ('{"form": "nope", "calls": [{"name": "x"}]}', ".json", ["/form: no form 'nope'"]),
    ('{"form": "customer_satisfaction"}', ".json", ["/: 'calls' is a required property"]),
    ('{"form": "customer_satisfaction", "calls": [{"name": "x", "direction": "sideways"}]}', ".json",
     ["/calls/0/direction: 'sideways' is not one of"]),
    ('{"form": "customer_satisfaction", "calls": [{"name": "x", "ai": [{"end": "maybe"}]}]}', ".json",
     ["/calls/0/ai/0/end: 'maybe' is not one of"]),
    ('{"form": "customer_satisfaction", "calls": [{"name": "x", "ai": [{"partial": {}, "end": "valid"}]}]}', ".json",
     ["/calls/0/ai/0: an AI step is one of"]),
    ('{"form": "customer_satisfaction", "calls": [{"name": "x", "keypad": {"nps": ["7#", "soon"]}}]}', ".json",
     ["/calls/0/keypad/nps/1: 'soon' is not a keypad entry"]),
    ('{"form": "customer_satisfaction", "calls": [{"name": "x", "keypad": {"colour": ["1"], "comment": ["1"]}}]}',
     ".json", ["/calls/0/keypad/colour: 'colour' is not a field of the form",
               "/calls/0/keypad/comment: 'comment' has no keypad mapping"]),
    ('{"form": "customer_satisfaction", "calls": [{"name": "x", "expect": {"answer": {}}}]}', ".json",
     ["/calls/0/expect: unknown key"]),
    ('{"form": "customer_satisfaction", "calls": [{"name": "x", "expect": {"answers": {"npz": 1}}}]}', ".json",
     ["/calls/0/expect/answers/npz: 'npz' is not a field of the form"]),
    ('{"form": "customer_satisfaction", "calls": [{"name": "x", "callee": "busy"}]}', ".json",
     ["/calls/0/callee: `callee` is about an outbound call"]),
])
def test_a_file_that_is_not_valid_is_refused_with_pointers(text: str, suffix: str, expected: list[str],
                                                          tmp_path: Path) -> None:
    found = problems(text, tmp_path, suffix)
    assert len(found) == len(expected), found
    for got, wanted in zip(found, expected, strict=True):
        assert got.startswith(wanted), (got, wanted)


def test_the_example_callers_cover_every_form_field() -> None:
    form: Form = CATALOG.forms["appointment_intake"]
    document = example_document(form)
    said = document["calls"][0]["ai"][-1]["result"]
    assert set(said) >= {"full_name", "date_of_birth", "visit_reason", "preferred_slot"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "survey_bot", "simulate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "SURVEY_BOT_LOG_LEVEL": "WARNING",
                                                       # this checkout's code, when PYTHONPATH points at it
                                                       **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}})


@pytest.mark.slow
def test_the_command_line_exits_0_1_or_2(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("form: customer_satisfaction\ncalls:\n  - name: expects too much\n"
                     "    ai: [{end: invalid}]\n    expect: {status: completed}\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("form: customer_satisfaction\ncalls: [{name: x, hangup: sometimes}]\n")
    passing = cli("--check", "--forms", str(FORMS), str(BUNDLED[0]), cwd=tmp_path)
    assert passing.returncode == 0, passing.stderr
    assert "as expected" in passing.stdout and "Traceback" not in passing.stderr
    failing = cli("--check", "--forms", str(FORMS), str(wrong), cwd=tmp_path)
    assert failing.returncode == 1
    assert 'FAIL status: expected "completed", got "partial"' in failing.stdout
    refused = cli("--check", "--forms", str(FORMS), str(broken), cwd=tmp_path)
    assert refused.returncode == 2 and f"{broken}: /calls/0/hangup:" in refused.stderr
    assert "Traceback" not in refused.stderr + failing.stderr
    usage = cli(cwd=tmp_path)
    assert usage.returncode == 2 and "give scenario files" in usage.stderr
