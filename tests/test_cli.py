"""The `survey-bot` command as a user runs it: a real subprocess, from a folder that is not the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from survey_bot.storage.migrate import head_revision

REPO = Path(__file__).resolve().parent.parent
SURVEY_BOT = [sys.executable, "-m", "survey_bot"]
KEY = "fW2MMwE3a2n0Zc8Hq5lX0bC3PcVTHYpRKo3i4y7hY1M="


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # (the tests' throwaway SURVEY_BOT_DATA_KEY stays: the example forms have sensitive fields)
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("SURVEY_BOT_", "TELNYX_")) or k == "SURVEY_BOT_DATA_KEY"}
    full_env.update(env or {})
    return subprocess.run([*SURVEY_BOT, *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_forms_check_passes_on_the_examples(tmp_path: Path) -> None:
    result = run(["forms", "check", "--strict"], tmp_path, {"SURVEY_BOT_FORMS_DIR": str(REPO / "forms")})
    assert result.returncode == 0, result.stderr
    assert "3 form(s) OK: appointment_intake, customer_satisfaction, purchase_follow_up" in result.stdout


def test_forms_check_prints_file_pointer_message_and_exits_1(tmp_path: Path) -> None:
    broken = json.loads((REPO / "forms" / "customer_satisfaction.json").read_text())
    broken["required"].append("no_such_field")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = run(["forms", "check", str(path)], tmp_path)
    assert result.returncode == 1
    assert f"{path}: /required/2: " in result.stdout


def test_db_upgrade_works_from_any_folder(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "bot.db"
    database.parent.mkdir()
    result = run(["db", "upgrade"], tmp_path, {"SURVEY_BOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}"})
    assert result.returncode == 0, result.stderr
    assert f"revision {head_revision('sqlite://')} (head)" in result.stdout and database.exists()


def test_serve_refuses_to_start_without_the_public_key(tmp_path: Path) -> None:
    result = run(["serve", "--port", "0"], tmp_path, {"SURVEY_BOT_FORMS_DIR": str(REPO / "forms")})
    assert result.returncode == 2
    assert "TELNYX_PUBLIC_KEY is not set" in result.stderr


def test_serve_refuses_a_database_not_at_head(tmp_path: Path) -> None:
    env = {"TELNYX_PUBLIC_KEY": KEY, "SURVEY_BOT_FORMS_DIR": str(REPO / "forms"),
           "SURVEY_BOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"}
    result = run(["serve", "--port", "0"], tmp_path, env)
    assert result.returncode == 2
    assert "run `survey-bot db upgrade`" in result.stderr


def test_serve_refuses_a_broken_form_with_its_pointer(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    shutil.copytree(REPO / "forms", forms)
    (forms / "bad.json").write_text('{"type": "object", "properties": {"x": {"type": "strnig"}}}')
    result = run(["serve", "--port", "0"], tmp_path, {"TELNYX_PUBLIC_KEY": KEY, "SURVEY_BOT_FORMS_DIR": str(forms)})
    assert result.returncode == 1
    assert "bad.json: /properties/x/type" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["call", "--help"], ["forms", "check", "--help"]])
def test_help_is_available(tmp_path: Path, args: list[str]) -> None:
    result = run(args, tmp_path)
    assert result.returncode == 0 and "usage: survey-bot" in result.stdout


def test_call_refuses_a_number_that_is_not_e164(tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    env = {"SURVEY_BOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "SURVEY_BOT_FORMS_DIR": str(REPO / "forms"),
           "TELNYX_CONNECTION_ID": "1", "SURVEY_BOT_FROM_NUMBER": "+15550009999"}
    assert run(["db", "upgrade"], tmp_path, env).returncode == 0
    result = run(["call", "555-1234", "--form", "customer_satisfaction"], tmp_path, env)
    assert result.returncode == 2 and "not an E.164 number" in result.stderr
