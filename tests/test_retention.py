"""Retention and the audit log, on both databases: purge by age and by form, a dry run counting exactly what a
purge then deletes, a response's events and commands going with it (and nothing else), two purges at once, the
retention job preferring a form's x-retention-days to SURVEY_BOT_RETENTION_DAYS, the audit line each purge
leaves (listed by `survey-bot audit` and GET /api/audit), and `survey-bot purge` as a user runs it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from survey_bot.config import ENVIRONMENT, Settings
from survey_bot.errors import ConfigError
from survey_bot.forms.load import load_forms, parse_form
from survey_bot.forms.model import FormCatalog
from survey_bot.jobs.retention import RetentionJob
from survey_bot.storage.audit import audit_entries, record_audit
from survey_bot.storage.engine import make_engine, make_sessionmaker
from survey_bot.storage.models import AuditEntry, Command, FormVersion, Response, WebhookEvent
from survey_bot.storage.purge import PurgeScope, count_purge, purge

REPO = Path(__file__).resolve().parent.parent
SURVEY, INTAKE = "customer_satisfaction", "appointment_intake"
NO_HOOKS = {"webhook_deliveries": 0, "webhook_attempts": 0}  # outbound webhooks: none in these tests
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SURVEY_BOT = [sys.executable, "-m", "survey_bot"]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def add(sessions: async_sessionmaker[AsyncSession], form_id: str, days_old: float, events: int = 2,
              commands: int = 1, status: str = "completed") -> str:
    """A response started `days_old` days before NOW, with its webhook events and commands; return its id."""
    started = NOW - timedelta(days=days_old)
    async with sessions() as db, db.begin():
        version = await db.scalar(select(FormVersion.id).where(FormVersion.form_id == form_id))
        if version is None:
            row = FormVersion(form_id=form_id, version="v1", document={"type": "object"}, created_at=started)
            db.add(row)
            await db.flush()
            version = row.id
        rid = str(uuid.uuid4())
        db.add(Response(id=rid, form_id=form_id, form_version_id=version, direction="incoming", status=status,
                        answers={"nps": 9}, sources={"nps": "ai"}, answer_times={}, message_history=[],
                        keypad_attempts=[], keypad_queue=None, failures=[], started_at=started, updated_at=started))
        for n in range(events):
            db.add(WebhookEvent(id=f"ev-{rid}-{n}", event_type="call.hangup", response_id=rid, received_at=started,
                                body="{}", state="processed"))
        for n in range(commands):
            db.add(Command(command_id=f"cmd-{rid}-{n}", response_id=rid, action="hangup", step="end", arguments={},
                           status="sent", created_at=started))
    return rid


async def remaining(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as db:
        return {"responses": await db.scalar(select(func.count()).select_from(Response)) or 0,
                "webhook_events": await db.scalar(select(func.count()).select_from(WebhookEvent)) or 0,
                "commands": await db.scalar(select(func.count()).select_from(Command)) or 0}


async def response_ids(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as db:
        return set((await db.scalars(select(Response.id))).all())


async def test_purge_by_age_and_form_takes_events_and_commands_and_nothing_else(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    old_survey = await add(sessions, SURVEY, 40, events=3, commands=2)
    new_survey = await add(sessions, SURVEY, 5)
    old_intake = await add(sessions, INTAKE, 40)
    async with sessions() as db, db.begin():  # an event no response owns (a stray webhook) is not the purge's
        db.add(WebhookEvent(id="stray", event_type="call.initiated", received_at=NOW, body="{}", state="ignored"))

    done = await purge(sessions, PurgeScope(NOW - timedelta(days=30), form_id=SURVEY))
    assert done == {SURVEY: {"responses": 1, "webhook_events": 3, "commands": 2, **NO_HOOKS}}
    assert await response_ids(sessions) == {new_survey, old_intake}
    assert await remaining(sessions) == {"responses": 2, "webhook_events": 2 + 2 + 1, "commands": 2}
    async with sessions() as db:
        owners = set((await db.scalars(select(WebhookEvent.response_id))).all())
        assert old_survey not in owners and not (await db.scalars(
            select(Command).where(Command.response_id == old_survey))).all()

    done = await purge(sessions, PurgeScope(NOW - timedelta(days=30)))  # every form
    assert done == {INTAKE: {"responses": 1, "webhook_events": 2, "commands": 1, **NO_HOOKS}}
    assert await response_ids(sessions) == {new_survey}


async def test_a_call_still_in_progress_is_never_purged(sessions: async_sessionmaker[AsyncSession]) -> None:
    live = await add(sessions, SURVEY, 40, status="in_progress")
    gone = await add(sessions, SURVEY, 40, status="abandoned")
    assert await purge(sessions, PurgeScope(NOW)) == {
        SURVEY: {"responses": 1, "webhook_events": 2, "commands": 1, **NO_HOOKS}}
    assert await response_ids(sessions) == {live} and gone != live


async def test_a_dry_run_counts_exactly_what_the_purge_then_deletes(sessions: async_sessionmaker[AsyncSession]) -> None:
    for days in (31, 45, 90):
        await add(sessions, SURVEY, days, events=days % 4, commands=days % 3)
    await add(sessions, INTAKE, 60, events=5, commands=0)
    await add(sessions, INTAKE, 1)
    scope = PurgeScope(NOW - timedelta(days=30))
    async with sessions() as db:
        counted = await count_purge(db, scope)
    before = await remaining(sessions)
    assert before["responses"] == 5  # the dry run deleted nothing
    assert await purge(sessions, scope, batch=2) == counted  # in batches of 2 responses
    assert counted == {SURVEY: {"responses": 3, "webhook_events": 3 + 1 + 2, "commands": 1 + 0 + 0, **NO_HOOKS},
                       INTAKE: {"responses": 1, "webhook_events": 5, "commands": 0, **NO_HOOKS}}
    assert await remaining(sessions) == {"responses": 1, "webhook_events": 2, "commands": 1}


async def test_two_purges_at_once_delete_each_row_once_and_count_it_once(database_url: str) -> None:
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        first, second = (make_sessionmaker(engine) for engine in engines)
        for n in range(40):
            await add(first, SURVEY if n % 3 else INTAKE, 31 + n, events=2, commands=1)
        await add(first, SURVEY, 2)
        scope = PurgeScope(NOW - timedelta(days=30))
        results = await asyncio.gather(purge(first, scope, batch=3), purge(second, scope, batch=3))
        total: dict[str, int] = {}
        for result in results:
            for counts in result.values():
                for table, n in counts.items():
                    total[table] = total.get(table, 0) + n
        assert total == {"responses": 40, "webhook_events": 80, "commands": 40, **NO_HOOKS}
        assert await remaining(first) == {"responses": 1, "webhook_events": 2, "commands": 1}
    finally:
        for engine in engines:
            await engine.dispose()


def catalog_with_retention(days: dict[str, int | None]) -> FormCatalog:
    forms = load_forms(REPO / "forms")
    return FormCatalog({form_id: dataclasses.replace(form, retention_days=days.get(form_id))
                        for form_id, form in forms.items()})


async def test_the_retention_job_prefers_the_forms_x_retention_days_to_the_setting(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    survey_10, survey_3 = await add(sessions, SURVEY, 10), await add(sessions, SURVEY, 3)
    intake_10, intake_40 = await add(sessions, INTAKE, 10), await add(sessions, INTAKE, 40)
    gone_form = await add(sessions, "retired_form", 40)  # stored only: the setting applies
    engine = sessions.kw["bind"]  # the job reclaims the space (VACUUM, or SQLite's checkpoint) after deleting
    job = RetentionJob(sessions, catalog_with_retention({SURVEY: 7}), default_days=30, engine=engine)
    done = await job.run_once(NOW)
    assert done == {SURVEY: {"responses": 1, "webhook_events": 2, "commands": 1, **NO_HOOKS},
                    INTAKE: {"responses": 1, "webhook_events": 2, "commands": 1, **NO_HOOKS},
                    "retired_form": {"responses": 1, "webhook_events": 2, "commands": 1, **NO_HOOKS}}
    assert await response_ids(sessions) == {survey_3, intake_10}
    assert not {survey_10, intake_40, gone_form} & await response_ids(sessions)
    async with sessions() as db:
        entries = await audit_entries(db, limit=10)
    lines = {entry.form_id: entry for entry in entries}
    assert set(lines) == {SURVEY, INTAKE, "retired_form"}
    assert all(entry.action == "purge" and entry.rows == 1 and entry.actor.startswith("retention-job:")
               for entry in entries)
    assert "7d" in lines[SURVEY].detail and "x-retention-days" in lines[SURVEY].detail
    assert "30d" in lines[INTAKE].detail and "SURVEY_BOT_RETENTION_DAYS" in lines[INTAKE].detail
    assert "webhook_events 2" in lines[INTAKE].detail and "commands 1" in lines[INTAKE].detail
    assert await job.run_once(NOW) == {}  # idempotent: a second pass finds nothing and writes no line
    async with sessions() as db:
        assert len(await audit_entries(db, limit=10)) == 3


async def test_without_any_retention_the_job_keeps_everything(sessions: async_sessionmaker[AsyncSession]) -> None:
    await add(sessions, SURVEY, 4000)
    job = RetentionJob(sessions, catalog_with_retention({}), default_days=None)
    assert job.scopes(NOW) == []
    assert await job.run_once(NOW) == {}
    zero = RetentionJob(sessions, catalog_with_retention({SURVEY: 0}), default_days=None)
    assert (await zero.run_once(NOW))[SURVEY]["responses"] == 1


async def test_with_sensitive_fields_every_pass_vacuums_the_rewritten_tables(
        sessions: async_sessionmaker[AsyncSession], backend: str) -> None:
    """Redaction rewrites rows (intake.redacting); on PostgreSQL their old versions stay until a VACUUM."""
    await add(sessions, SURVEY, 1)
    job = RetentionJob(sessions, catalog_with_retention({}), default_days=None, engine=sessions.kw["bind"])
    assert job.redacts and job.keeps_everything and not job.idle  # appointment_intake has sensitive fields
    assert await job.run_once(NOW) == {}  # nothing purged; the space is reclaimed all the same
    if backend == "postgresql":
        async with sessions() as db:
            vacuumed = set((await db.execute(text(
                "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL"))).scalars())
        assert {"responses", "webhook_events", "commands"} <= vacuumed, vacuumed
    assert not RetentionJob(sessions, FormCatalog({}), default_days=None).redacts


async def test_audit_entries_are_newest_first_with_a_cursor(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as db, db.begin():
        for n in range(5):
            await record_audit(db, "cli:alice", "purge", SURVEY, n, f"older than {n}d", NOW + timedelta(minutes=n))
    async with sessions() as db:
        first = await audit_entries(db, limit=3)
        rest = await audit_entries(db, limit=3, before=first[-1].id)
    assert [entry.rows for entry in first] == [4, 3, 2] and [entry.rows for entry in rest] == [1, 0]
    assert isinstance(first[0], AuditEntry) and first[0].actor == "cli:alice"


def test_the_setting_and_the_form_keyword_are_checked() -> None:
    assert Settings.load(env={}).retention_days is None
    assert Settings.load(env={"SURVEY_BOT_RETENTION_DAYS": "30"}).retention_days == 30
    with pytest.raises(ConfigError, match="SURVEY_BOT_RETENTION_DAYS"):
        Settings.load(env={"SURVEY_BOT_RETENTION_DAYS": "-1"})
    readme = (REPO / "README.md").read_text()
    assert all(f"`{variable}`" in readme for _attribute, variable, _default, _doc in ENVIRONMENT)
    document = json.loads((REPO / "forms" / f"{SURVEY}.json").read_text())
    assert parse_form({**document, "x-retention-days": 90}, SURVEY).retention_days == 90
    assert parse_form(document, SURVEY).retention_days is None
    from survey_bot.forms.check import check_document

    for bad in (-1, "30", 1.5):
        problems = check_document({**document, "x-retention-days": bad}, "f.json")
        assert any(problem.pointer == "/x-retention-days" for problem in problems), (bad, problems)


async def test_sqlite_purges_leave_no_copy_in_the_file(tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    from survey_bot.storage.purge import reclaim

    path = tmp_path / "secure.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        sessions = make_sessionmaker(engine)
        marker = "MARKER-" + uuid.uuid4().hex
        for _ in range(30):
            rid = await add(sessions, SURVEY, 40)
            async with sessions() as db, db.begin():
                row = await db.get(Response, rid)
                assert row is not None
                row.answers = {"comment": marker * 20}
        assert await purge(sessions, PurgeScope(NOW)) != {}
        await reclaim(engine)
    finally:
        await engine.dispose()
    for file in tmp_path.glob("secure.db*"):
        assert marker.encode() not in file.read_bytes(), file.name


# ---- the command line, as a user runs it ----------------------------------------------------------------------


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SURVEY_BOT_", "TELNYX_")) or k == "SURVEY_BOT_DATA_KEY"}  # (the tests' key)
    env |= {"SURVEY_BOT_DATABASE_URL": database_url, "SURVEY_BOT_FORMS_DIR": str(REPO / "forms")}
    return subprocess.run([*SURVEY_BOT, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


async def test_purge_and_audit_on_the_command_line(database_url: str,
                                                   sessions: async_sessionmaker[AsyncSession]) -> None:
    await add(sessions, SURVEY, 1, events=3, commands=2)
    await add(sessions, INTAKE, 1, events=1, commands=0)
    tomorrow = (NOW - datetime.now(UTC)) / timedelta(days=1) - 1
    keep = await add(sessions, INTAKE, tomorrow)  # started after the command's now: 0d keeps it

    dry = await asyncio.to_thread(cli, database_url, "purge", "--older-than", "0d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"{SURVEY}: 1 responses, 3 webhook events, 2 commands" in dry.stdout
    assert f"{INTAKE}: 1 responses, 1 webhook events, 0 commands" in dry.stdout
    assert "dry run" in dry.stdout and (await remaining(sessions))["responses"] == 3

    real = await asyncio.to_thread(cli, database_url, "purge", "--older-than", "12h", "--form", SURVEY)
    assert real.returncode == 0, real.stderr
    assert f"{SURVEY}: 1 responses, 3 webhook events, 2 commands" in real.stdout and INTAKE not in real.stdout
    assert len(await response_ids(sessions)) == 2 and keep in await response_ids(sessions)

    listed = await asyncio.to_thread(cli, database_url, "audit", "--json", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["action"] == "purge" and entry["form_id"] == SURVEY and entry["rows"] == 1
    assert entry["actor"].startswith("cli:") and "12h" in entry["detail"]
    table = await asyncio.to_thread(cli, database_url, "audit")
    assert table.returncode == 0 and SURVEY in table.stdout and "purge" in table.stdout


@pytest.mark.parametrize("age", ["30", "-1d", "1w", "d", "1.5d", "30 d"])
def test_purge_refuses_an_age_it_cannot_read_in_one_line(tmp_path: Path, age: str) -> None:
    result = cli(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", "purge", f"--older-than={age}")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "30d" in result.stderr and "12h" in result.stderr
    assert not (tmp_path / "unused.db").exists()


async def test_the_server_runs_the_job_only_when_something_limits_retention(database_url: str,
                                                                            tmp_path: Path) -> None:
    from survey_bot.web.app import create_app
    from survey_bot.web.state import state

    plain = tmp_path / "forms"  # no sensitive field: nothing is rewritten by redaction either
    plain.mkdir()
    shutil.copyfile(REPO / "forms" / "customer_satisfaction.json", plain / "customer_satisfaction.json")
    base = {"database_url": database_url, "insecure_skip_verify": True, "forms_dir": plain, "dispatcher": "inline"}
    sensitive = {"forms_dir": REPO / "forms"}  # appointment_intake's sensitive answers: the job reclaims daily
    for overrides, runs in (({}, False), ({"retention_days": 30}, True), (sensitive, True)):
        app = create_app({**base, **overrides})
        async with app.test_app():
            job = state(app).retention
            assert (job is not None) == runs
            assert job is None or job.default_days == 30 or (job.redacts and job.keeps_everything)
