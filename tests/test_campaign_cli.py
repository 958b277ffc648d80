"""`survey-bot campaign` and `survey-bot suppress` as a user runs them, on both databases: the import's summary
(bad rows with lines and reasons, duplicates, suppressed numbers) and what it stored, lists that cannot be read,
bad options, the campaign's states, cancel giving every open contact its disposition, the report's rates on a
worked example, and the export read back with Python's csv."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from campaign_lists import LIST, REPO, campaign_forms, cli, contacts_of, dial, dispose, numbered_list

FORM = "customer_satisfaction"


@pytest.fixture
def contacts_csv(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text(LIST, encoding="utf-8")
    return path


async def create(monkeypatch: pytest.MonkeyPatch, database_url: str, path: Path, *options: str) -> str:
    ran = await cli(monkeypatch, database_url, "campaign", "create", "--form", FORM, "--contacts", str(path),
                    *options)
    assert ran.code == 0, ran.err
    return ran.out.strip().splitlines()[-1]


async def test_create_imports_the_list_and_reports_every_row_it_did_not(
        monkeypatch: pytest.MonkeyPatch, database_url: str, contacts_csv: Path) -> None:
    assert (await cli(monkeypatch, database_url, "suppress", "add", "+12125550104")).code == 0
    ran = await cli(monkeypatch, database_url, "campaign", "create", "--form", FORM, "--contacts", str(contacts_csv),
                    "--window", "10:00-19:30", "--days", "mon-fri", "--retry-after", "2s", "--locale", "en-US")
    assert ran.code == 0, ran.err
    lines = ran.out.strip().splitlines()
    assert lines[0] == ("customers.csv: 3 contacts imported, 2 rejected, 1 duplicates merged, 1 on the suppression "
                        "list (not imported)")
    assert any(line.startswith("  line 5: rejected: phone '555-0103' has no country code") for line in lines)
    assert "  line 8: rejected: 6 cells where the header has 5 columns" in lines
    assert "  line 4: duplicate of line 2 (+12125550101): merged" in lines
    assert "  line 6: +12125550104 is on the suppression list: not imported" in lines
    campaign_id = lines[-1]
    stored = {c.phone: c for c in await contacts_of(database_url, campaign_id)}
    assert sorted(stored) == ["+12125550101", "+12125550102", "+442079460958"]
    ann, bob, uma = stored["+12125550101"], stored["+12125550102"], stored["+442079460958"]
    assert (ann.timezones, ann.locale, ann.name, ann.variables, ann.line) == ("America/New_York", "en-US", "Ann",
                                                                              {"plan": "gold"}, 2)
    assert (bob.timezones, bob.locale, bob.variables) == ("America/Chicago", "es", {"plan": "=1+2"})
    assert uma.timezones == "Europe/London" and uma.state == "pending" and uma.attempts == 0
    status = json.loads((await cli(monkeypatch, database_url, "campaign", "status", campaign_id, "--json")).out)
    assert status["status"] == "draft" and status["contacts"] == {"pending": 3, "dialing": 0, "done": 0, "total": 3}
    assert status["rules"] | {} == {
        "window": "10:00-19:30", "days": "mon,tue,wed,thu,fri", "max_attempts": 3, "retry_after": "2s",
        "concurrency": 10, "rate": 1.0, "amd": True, "voicemail": None, "quota": None, "locale": "en-US",
        "default_region": None}
    assert status["columns"] == ["plan"]


async def test_a_national_number_is_taken_with_a_default_region(
        monkeypatch: pytest.MonkeyPatch, database_url: str, contacts_csv: Path) -> None:
    campaign_id = await create(monkeypatch, database_url, contacts_csv, "--default-region", "us")
    assert "+12125550103" not in {c.phone for c in await contacts_of(database_url, campaign_id)}  # 555-0103: 7 digits
    path = contacts_csv.with_name("national.csv")
    path.write_text("phone\n(212) 555-0103\n")
    campaign_id = await create(monkeypatch, database_url, path, "--default-region", "US")
    assert [c.phone for c in await contacts_of(database_url, campaign_id)] == ["+12125550103"]


@pytest.mark.parametrize(("text", "message"), [
    ("name,plan\nAnn,gold\n", "line 1: no `phone` column (columns: name, plan): nothing was imported"),
    ("phone,name\n+12125550101,Ann\n+12125550102,\xe9\n", None),
    ('phone,name\n+12125550101,"Ann\n', "line 2: not CSV (unexpected end of data): nothing was imported"),
])
async def test_a_list_that_cannot_be_read_imports_nothing_and_says_where(
        monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path, text: str, message: str | None) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(text.encode("latin-1") if message is None else text.encode())
    ran = await cli(monkeypatch, database_url, "campaign", "create", "--form", FORM, "--contacts", str(path))
    assert ran.code == 2 and ran.out == ""
    assert ran.err.count("\n") == 1 and "Traceback" not in ran.err
    assert (message or "line 3: not UTF-8") in ran.err
    listed = await cli(monkeypatch, database_url, "suppress", "list")
    assert listed.code == 0  # (the database is fine) and no campaign was left behind:
    assert await contacts_of(database_url, "any") == []


@pytest.mark.parametrize(("options", "message"), [
    (["--window", "9-17"], "--window: '9-17' is not HH:MM-HH:MM"),
    (["--days", "fri-mon"], "--days: 'fri-mon': fri-mon runs backwards"),
    (["--retry-after", "4d"], "--retry-after: '4d' is not a number followed by s, m or h"),
    (["--rate", "0"], "--rate: 0.0: give calls per second"),
    (["--no-amd", "--voicemail", "Hello"], "--voicemail: a voicemail message needs answering-machine detection"),
    (["--form", "nope"], "--form nope: no such form"),
    (["--contacts", "/nonexistent.csv"], "--contacts /nonexistent.csv: no such file"),
])
async def test_bad_options_are_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, database_url: str,
                                                   contacts_csv: Path, options: list[str], message: str) -> None:
    base = {"--form": FORM, "--contacts": str(contacts_csv)}
    for option in options:
        base.pop(option, None)
    argv = [part for pair in base.items() for part in pair] + options
    ran = await cli(monkeypatch, database_url, "campaign", "create", *argv)
    assert ran.code == 2 and message in ran.err and ran.err.count("\n") == 1, ran.err


async def test_a_form_without_a_disclosure_cannot_run_a_campaign(monkeypatch: pytest.MonkeyPatch, database_url: str,
                                                                 contacts_csv: Path) -> None:
    ran = await cli(monkeypatch, database_url, "campaign", "create", "--form", FORM, "--contacts", str(contacts_csv),
                    forms=REPO / "forms")
    assert ran.code == 2 and ran.err.count("\n") == 1, ran.err
    assert "--form customer_satisfaction: form 'customer_satisfaction' has no x-disclosure: a campaign's calls must " \
           "say who is calling and why" in ran.err


def readme_campaign_example() -> list[tuple[list[str], list[str]]]:
    """The README's first `## Campaigns` console block as (argv after `survey-bot`, the lines it prints), up to
    its `campaign create` (the commands after it name the id that one printed)."""
    section = (REPO / "README.md").read_text().split("\n## Campaigns\n", 1)[1]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    steps: list[tuple[list[str], list[str]]] = []
    for chunk in block.split("$ survey-bot ")[1:]:
        command, _, printed = chunk.replace("\\\n", " ").partition("\n")
        steps.append((shlex.split(command), printed.splitlines()))
        if steps[-1][0][:2] == ["campaign", "create"]:
            break
    return steps


async def test_the_readmes_campaign_example_prints_what_the_readme_shows(
        monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """Run from the repository's folder on the bundled forms, as a newcomer copies it: the campaign-ready form
    takes the sample list, and every line printed is the README's (the campaign id aside, a new one each run)."""
    steps = readme_campaign_example()
    assert [argv[:2] for argv, _ in steps] == [["suppress", "add"], ["campaign", "create"]]
    assert steps[1][0][2:6] == ["--form", "purchase_follow_up", "--contacts", "docs/examples/customers.csv"]
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("SURVEY_BOT_DATA_KEY")  # a newcomer has none; the campaign's form has no sensitive field
    for argv, shown in steps:
        ran = await cli(monkeypatch, database_url, *argv, forms=REPO / "forms")
        assert ran.code == 0 and ran.err == "", ran.err
        printed = ran.out.splitlines()
        if argv[0] == "campaign":
            campaign_id, shown_id = printed.pop(), shown.pop()  # the last line: the campaign's id
            assert str(uuid.UUID(campaign_id)) == campaign_id and str(uuid.UUID(shown_id)) == shown_id
        assert printed == shown


async def test_states_refusals_and_cancel_disposing_every_open_contact(
        monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "five.csv"
    path.write_text(numbered_list(5))
    campaign_id = await create(monkeypatch, database_url, path)
    steps = [("pause", 2, "only a running campaign can pause"), ("start", 0, "running"), ("start", 2, "is running"),
             ("pause", 0, "paused"), ("pause", 2, "is paused"), ("resume", 0, "running"), ("cancel", 0, "cancelled"),
             ("resume", 2, "is cancelled")]
    for action, code, said in steps:
        if action == "cancel":  # what the scheduler would have left by now
            await dial(database_url, campaign_id, "+12122000000", "no_answer", "busy")
            await dial(database_url, campaign_id, "+12122000001", "machine", None)
            await dial(database_url, campaign_id, "+12122000002", "complete")
            await dispose(database_url, campaign_id, {})
        ran = await cli(monkeypatch, database_url, "campaign", action, campaign_id)
        assert ran.code == code and said in (ran.out + ran.err), (action, ran)
    disposed = {c.phone: (c.state, c.disposition, c.disposition_code) for c in await contacts_of(database_url,
                                                                                                 campaign_id)}
    assert disposed == {
        "+12122000000": ("done", "busy", "3.12"),
        "+12122000001": ("dialing", None, None),  # on a call when cancelled: disposed when it ends
        "+12122000002": ("done", "complete", "1.1"),
        "+12122000003": ("done", "not_attempted", "3.11"),
        "+12122000004": ("done", "not_attempted", "3.11"),
    }
    missing = await cli(monkeypatch, database_url, "campaign", "status", "no-such-id")
    assert missing.code == 2 and missing.err.strip() == "survey-bot: no campaign 'no-such-id'"


async def test_report_rates_on_a_worked_example_and_the_export_read_back(
        monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "hundred.csv"
    path.write_text(numbered_list(100))
    campaign_id = await create(monkeypatch, database_url, path)
    # the worked example of tests/test_campaign_rules.py: I=40 P=10 R=20 NC=5 UH=25 (NE=0), less 3 still open
    await dispose(database_url, campaign_id, {
        ("complete", "1.1"): 40, ("partial", "1.2"): 10, ("refusal", "2.11"): 15, ("break_off", "2.12"): 5,
        ("machine", "2.22"): 5, ("no_answer", "3.13"): 17, ("busy", "3.12"): 3, ("machine", "3.14"): 2,
        ("invalid_number", "4.31"): 0})
    # 97 disposed; 3 contacts left open are in no rate: I+P+R+NC+UH = 40+10+20+5+22 = 97
    report = json.loads((await cli(monkeypatch, database_url, "campaign", "report", campaign_id, "--json")).out)
    assert report["contacts"] == 100 and report["open_contacts"] == 3
    counts = {(d["disposition"], d["code"]): d["count"] for d in report["dispositions"]}
    assert counts[("machine", "2.22")] == 5 and counts[("machine", "3.14")] == 2 and counts[("fax", "4.20")] == 0
    assert report["rates"] == pytest.approx({"RR1": 40 / 97, "RR2": 50 / 97, "COOP1": 40 / 70, "REF1": 20 / 97,
                                             "CON1": 70 / 97})
    text = (await cli(monkeypatch, database_url, "campaign", "report", campaign_id)).out
    assert "  RR1      41.2%  = I / ((I+P) + (R+NC+O) + (UH+UO))" in text.splitlines()
    out = tmp_path / "export.csv"
    assert (await cli(monkeypatch, database_url, "campaign", "export", campaign_id, "--out", str(out))).code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 100
    assert list(rows[0]) == ["contact_id", "phone", "timezone", "locale", "attempts", "last_attempt_at",
                             "last_outcome", "disposition", "disposition_code", "response_id"]  # `name` is known
    assert rows[0]["phone"] == "+12122000000" and rows[0]["disposition"] == "complete"
    assert rows[0]["disposition_code"] == "1.1" and rows[-1]["disposition"] == ""


async def test_the_export_keeps_the_lists_columns_formula_safe(
        monkeypatch: pytest.MonkeyPatch, database_url: str, contacts_csv: Path) -> None:
    campaign_id = await create(monkeypatch, database_url, contacts_csv)
    await dial(database_url, campaign_id, "+12125550102", "no_answer")
    ran = await cli(monkeypatch, database_url, "campaign", "export", campaign_id)
    rows = list(csv.DictReader(io.StringIO(ran.out)))
    assert list(rows[0]) == ["contact_id", "phone", "timezone", "locale", "attempts", "last_attempt_at",
                             "last_outcome", "disposition", "disposition_code", "response_id", "plan"]
    bob = next(row for row in rows if row["phone"] == "+12125550102")
    assert bob["plan"] == "'=1+2" and bob["attempts"] == "1" and bob["last_outcome"] == "no_answer"
    assert bob["last_attempt_at"] == "2025-03-03T13:00:00Z" and bob["timezone"] == "America/Chicago"


async def test_suppress_add_remove_list(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    added = await cli(monkeypatch, database_url, "suppress", "add", "+1 212 555 0101", "+442079460958",
                      "+12125550101")
    assert added.code == 0 and added.out.strip() == "2 added to the suppression list (0 already on it)"
    again = await cli(monkeypatch, database_url, "suppress", "add", "+442079460958")
    assert again.out.strip() == "0 added to the suppression list (1 already on it)"
    listed = (await cli(monkeypatch, database_url, "suppress", "list")).out.splitlines()
    assert [line.split()[:2] for line in listed] == [["+12125550101", "manual"], ["+442079460958", "manual"]]
    asked = (await cli(monkeypatch, database_url, "suppress", "list", "+12125550101", "+12125550199")).out
    assert asked.splitlines()[1] == "+12125550199  not on the list"
    removed = await cli(monkeypatch, database_url, "suppress", "remove", "+12125550101", "+12125550199")
    assert removed.out.strip() == "1 removed from the suppression list (1 were not on it)"
    bad = await cli(monkeypatch, database_url, "suppress", "add", "12125550101")
    assert bad.code == 2 and "NUMBER '12125550101': has no country code" in bad.err


def test_the_installed_command_creates_a_campaign(sqlite_url: str, tmp_path: Path) -> None:
    """Once through a real process (the rest call the same entry function in-process, to stay fast)."""
    path = tmp_path / "list.csv"
    path.write_text(numbered_list(3))
    env = {"PATH": "/usr/bin:/bin", "SURVEY_BOT_DATABASE_URL": sqlite_url,
           "SURVEY_BOT_FORMS_DIR": str(campaign_forms()),
           **{k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "SURVEY_BOT_DATA_KEY")}}
    ran = subprocess.run([sys.executable, "-m", "survey_bot", "campaign", "create", "--form", FORM, "--contacts",
                          str(path)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0] == "list.csv: 3 contacts imported, 0 rejected, 0 duplicates merged, 0 on the " \
                                         "suppression list (not imported)"


async def test_create_names_a_placeholder_no_column_fills(monkeypatch: pytest.MonkeyPatch, database_url: str,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "nameless.csv"
    path.write_text("phone,first_name\n+12125550199,Ann\n")
    ran = await cli(monkeypatch, database_url, "campaign", "create", "--form", "purchase_follow_up",
                    "--contacts", str(path), forms=REPO / "forms")
    assert ran.code == 0, ran.err
    printed = ran.out.splitlines()
    assert printed[-2] == ("  note: the form's opening names {name}, which the list has no column for: its calls "
                           "leave it out")
    assert str(uuid.UUID(printed[-1])) == printed[-1]  # the campaign id stays the last line
