"""A newcomer's ordinary mistakes, through the CLI as they type them: each is said in one line on stderr with
exit status 2 and no traceback, and changes nothing. And the demo, run from a folder that has its own forms/,
still plays its own example forms and says so."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from survey_bot import __version__

ROOT = Path(__file__).resolve().parent.parent


def survey_bot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SURVEY_BOT_LOG_LEVEL": "WARNING", **env}
    return subprocess.run([sys.executable, "-m", "survey_bot", *args], cwd=cwd, env=clean, capture_output=True,
                          text=True, timeout=120)


def one_line_and_exit_2(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("survey-bot: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def migrated(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    assert survey_bot("db", "upgrade", cwd=tmp_path, SURVEY_BOT_DATABASE_URL=url).returncode == 0
    return url


@pytest.mark.slow
def test_ordinary_mistakes_are_one_line_and_exit_2(tmp_path: Path, migrated: str) -> None:
    one_line_and_exit_2(survey_bot("export", "customer_satisfaction", "--out", str(tmp_path / "missing" / "x.csv"),
                                   cwd=tmp_path, SURVEY_BOT_DATABASE_URL=migrated),
                        f"the folder {tmp_path / 'missing'} does not exist")
    assert not (tmp_path / "missing").exists()
    one_line_and_exit_2(survey_bot("db", "upgrade", cwd=tmp_path, SURVEY_BOT_DATABASE_URL="sqlite:///bot.db"),
                        "use sqlite+aiosqlite:///bot.db")
    one_line_and_exit_2(survey_bot("export", "customer_satisfaction", cwd=tmp_path, SURVEY_BOT_DATABASE_URL="bot.db"),
                        "use sqlite+aiosqlite:///bot.db")
    one_line_and_exit_2(survey_bot("db", "upgrade", cwd=tmp_path,
                                   SURVEY_BOT_DATABASE_URL="postgresql://someone:secret@127.0.0.1/test"),
                        "use postgresql+asyncpg://someone:***@127.0.0.1/test")
    one_line_and_exit_2(survey_bot("demo", "--keep", str(tmp_path / "nowhere" / "demo.db"), cwd=tmp_path),
                        f"the folder {tmp_path / 'nowhere'} does not exist")
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_bytes(b"my notes, not a database\n" * 100)
    one_line_and_exit_2(survey_bot("demo", "--keep", str(not_a_database), cwd=tmp_path),
                        f"{not_a_database} is not a SQLite database (it was left untouched)")
    assert not_a_database.read_bytes() == b"my notes, not a database\n" * 100
    one_line_and_exit_2(survey_bot("forms", "check", cwd=tmp_path, SURVEY_BOT_FORMS_DIR=str(tmp_path / "forms")),
                        f"the forms folder {tmp_path / 'forms'} does not exist")
    one_line_and_exit_2(survey_bot("serve", "--insecure-skip-verify", cwd=tmp_path, SURVEY_BOT_DATABASE_URL=migrated,
                                   SURVEY_BOT_FORMS_DIR=str(tmp_path / "forms")),
                        "forms folder", "does not exist")
    one_line_and_exit_2(survey_bot("db", "upgrade", cwd=tmp_path,
                                   SURVEY_BOT_DATABASE_URL="postgresql+asyncpg://postgres:pw@127.0.0.1:1/test"),
                        "cannot reach the database postgresql+asyncpg://postgres:***@127.0.0.1:1/test")


def test_version_and_status_before_the_form_id(tmp_path: Path, migrated: str) -> None:
    version = survey_bot("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"survey-bot {__version__}"
    exported = survey_bot("export", "--status", "completed,partial", "--status", "failed", "customer_satisfaction",
                          cwd=tmp_path, SURVEY_BOT_DATABASE_URL=migrated)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("response_id,form_id,")
    spaced = survey_bot("export", "--status", "completed", "partial", "customer_satisfaction", cwd=tmp_path,
                        SURVEY_BOT_DATABASE_URL=migrated)
    assert spaced.returncode == 0 and spaced.stdout == exported.stdout, spaced.stderr
    one_line_and_exit_2(survey_bot("export", "--status", "done", "customer_satisfaction", cwd=tmp_path,
                                   SURVEY_BOT_DATABASE_URL=migrated), "'done' is not a status")


def test_every_option_has_help_with_its_default() -> None:
    from survey_bot.cli.main import build_parser

    missing = []
    stack = [("survey-bot", build_parser())]
    while stack:
        name, parser = stack.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack += [(f"{name} {child}", sub) for child, sub in action.choices.items()]
            elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
                text = action.help or ""
                takes_value = action.option_strings and action.nargs != 0
                if not text or (takes_value and "default" not in text and not action.required):
                    missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}: {text!r}")
    assert not missing, "\n".join(missing)


@pytest.mark.slow
def test_the_demo_plays_its_own_forms_whatever_folder_it_runs_from(tmp_path: Path) -> None:
    (tmp_path / "forms").mkdir()
    (tmp_path / "forms" / "my_poll.json").write_text(
        '{"title": "My poll", "type": "object", "properties": {"ok": {"type": "boolean"}}}')
    result = survey_bot("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the bundled example forms (appointment_intake, customer_satisfaction, purchase_follow_up)" in result.stdout
    assert "my_poll" not in result.stdout and "FAIL:" not in result.stdout
    assert "survey-bot export appointment_intake" in result.stdout
    # its small campaign: mixed outcomes, retried, each contact disposed
    assert "A small campaign (12 contacts" in result.stdout and "campaign finished" in result.stdout
    assert "retries after 1s) on purchase_follow_up:" in result.stdout  # the campaign-ready form: no note
    assert "x-disclosure" not in result.stdout + result.stderr and "note:" not in result.stdout
    assert "1.1   complete        8" in result.stdout and "4.31  invalid_number  1" in result.stdout
    assert "RR1      72.7%" in result.stdout  # the campaign report's rates

    mine = survey_bot("demo", "--forms", str(tmp_path / "forms"), cwd=tmp_path)
    assert mine.returncode == 0, mine.stdout + mine.stderr
    assert "your forms (my_poll)" in mine.stdout and "status COMPLETED" in mine.stdout
    assert "survey-bot export my_poll" in mine.stdout
