"""What operators see, in-process: GET /metrics after simulated calls through the real app and the fake Telnyx
(counters moving by event type, result, action and status; the store's gauges), its bearer token, the JSON log
lines with the ids of the call they are about and no secret, and the set-up `survey-bot serve` relies on
(prometheus_client imported only after the metrics directory is chosen; dead processes' files removed).

Counters are per process and other tests move them too, so these compare a scrape before and after.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_text import Samples, parse, total, value

from survey_bot.config import ENVIRONMENT, Settings
from survey_bot.observe import metrics
from survey_bot.observe.log_context import log_context
from survey_bot.observe.log_format import REDACTED, JsonFormatter, TextFormatter, secrets_in
from survey_bot.observe.multiprocess import ENV, metrics_directory, remove_dead
from survey_bot.sandbox.stack import Stack, running_stack
from survey_bot.simulator import Delivery
from survey_bot.simulator.examples import ai_fills_everything, caller_hangs_up_midway

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "forms"
ADMIN = "observe-admin-token-0001"
SCRAPE_TOKEN = "observe-scrape-token-0001"

async def scrape(url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        answer = await client.get(f"{url}/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


async def play(stack: Stack, scenario: object) -> str:
    call_id = stack.fake.start_call(scenario)  # type: ignore[arg-type]
    await stack.fake.wait_call_done(call_id, timeout=20)
    await stack.settle()
    return call_id


async def test_metrics_move_with_simulated_calls(database_url: str) -> None:
    async with running_stack(database_url, {"forms_dir": FORMS, "admin_token": ADMIN}) as stack:
        before = await scrape(stack.app_url)
        await play(stack, replace(ai_fills_everything(), delivery=Delivery(duplicate_every=True)))
        await play(stack, caller_hangs_up_midway())
        after = await scrape(stack.app_url)
        deliveries = [d for d in stack.fake.deliveries if d.delivered]

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    webhooks = "survey_bot_webhooks_total"
    assert moved(webhooks, event_type="call.initiated", result="processed") == 2
    assert moved(webhooks, event_type="call.answered", result="processed") == 2
    assert moved(webhooks, event_type="call.hangup", result="processed") == 2
    assert moved(webhooks, event_type="call.ai_gather.ended", result="processed") >= 1
    assert moved(webhooks, event_type="call.answered", result="duplicate") == 1  # delivered twice, kept once
    # every webhook the app acknowledged was counted once, and timed once
    counted = total(after, webhooks) - total(before, webhooks)
    assert counted == len(deliveries)
    timed = (value(after, "survey_bot_webhook_intake_seconds_count")
             - value(before, "survey_bot_webhook_intake_seconds_count"))
    assert timed == len(deliveries)
    commands = "survey_bot_commands_total"
    assert moved(commands, action="answer", status="sent") == 2
    assert moved(commands, action="gather_using_ai", status="sent") == 2
    assert moved(commands, action="hangup", status="sent") >= 1
    assert total(after, commands, status="failed") == total(before, commands, status="failed")
    # the store's gauges are what the database holds now (a fresh database per test)
    assert value(after, "survey_bot_responses", form_id="customer_satisfaction", status="completed") == 1
    assert value(after, "survey_bot_responses", form_id="appointment_intake", status="abandoned") == 1
    assert value(after, "survey_bot_calls_in_progress") == 0
    assert value(after, "survey_bot_outbox_open_commands") == 0
    assert value(after, "survey_bot_outbox_lag_seconds") == 0
    assert value(after, "survey_bot_database_up") == 1


async def test_metrics_token_guards_the_scrape(sqlite_url: str) -> None:
    overrides = {"forms_dir": FORMS, "admin_token": ADMIN, "metrics_token": SCRAPE_TOKEN}
    async with running_stack(sqlite_url, overrides) as stack, httpx.AsyncClient(trust_env=False) as client:
        url = f"{stack.app_url}/metrics"
        refused = await client.get(url)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert SCRAPE_TOKEN not in refused.text
        for wrong in ("Bearer nope", f"Bearer {ADMIN}", f"Basic {SCRAPE_TOKEN}", SCRAPE_TOKEN):
            assert (await client.get(url, headers={"Authorization": wrong})).status_code == 401, wrong
        samples = await scrape(stack.app_url, SCRAPE_TOKEN)
        assert value(samples, "survey_bot_database_up") == 1
        openapi = (await client.get(f"{stack.app_url}/openapi.json")).json()
        assert "/metrics" not in openapi["paths"]  # the API's document covers /api only


async def test_a_scrape_without_the_database_still_shows_the_counters(sqlite_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreachable(*_args: object) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr("survey_bot.web.scrape.store_figures", unreachable)
    async with running_stack(sqlite_url, {"forms_dir": FORMS}) as stack:
        samples = await scrape(stack.app_url)
    assert value(samples, "survey_bot_database_up") == 0
    assert ("survey_bot_calls_in_progress", frozenset()) not in samples
    assert any(name == "survey_bot_webhook_intake_seconds_count" for name, _labels in samples)


def test_the_settings_table_names_the_new_variables() -> None:
    variables = {variable: default for _attr, variable, default, _doc in ENVIRONMENT}
    assert variables["SURVEY_BOT_METRICS_TOKEN"] == "" and variables["SURVEY_BOT_LOG_FORMAT"] == "text"
    settings = Settings.load(env={"SURVEY_BOT_METRICS_TOKEN": SCRAPE_TOKEN, "SURVEY_BOT_LOG_FORMAT": "json"})
    assert settings.metrics_token == SCRAPE_TOKEN and settings.log_format == "json"
    assert SCRAPE_TOKEN not in repr(settings)
    readme = (ROOT / "README.md").read_text()
    assert "`SURVEY_BOT_METRICS_TOKEN`" in readme and "`SURVEY_BOT_LOG_FORMAT`" in readme


def test_event_type_labels_stay_within_a_budget() -> None:
    assert metrics._event_label("call.answered") == "call.answered"
    assert metrics._event_label("Robert'); DROP TABLE") == metrics.OTHER
    assert metrics._event_label("x" * 65) == metrics.OTHER


# --- logs ------------------------------------------------------------------------------------------------------


def emit(formatter: logging.Formatter, *records: tuple[int, str, tuple[object, ...]]) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("survey_bot.test_observe")
    logger.addHandler(handler)
    logger.propagate, logger.level = False, logging.DEBUG
    try:
        for level, message, args in records:
            logger.log(level, message, *args)
        with log_context(response_id="r-1", call_control_id="v3:call-1", event_id="ev-1"):
            logger.info("inside a webhook")
            with log_context(command_id="cmd-1"):
                try:
                    raise RuntimeError(f"refused with key {ADMIN}")
                except RuntimeError:
                    logger.exception("send failed")
        logger.info("after")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_json_lines_carry_the_ids_and_never_a_secret() -> None:
    secrets = secrets_in({"SURVEY_BOT_ADMIN_TOKEN": ADMIN, "TELNYX_API_KEY": "KEY0123456789",
                          "SURVEY_BOT_DATABASE_URL": "postgresql+asyncpg://bot:pg-password-1@db/survey"})
    lines = emit(JsonFormatter("dispatcher", secrets=secrets),
                 (logging.WARNING, "token %s and key %s", (ADMIN, "KEY0123456789")),
                 (logging.INFO, 'quote " and newline\nin a message', ()))
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 5
    assert all({"time", "level", "logger", "message", "pid"} <= e.keys() for e in entries)
    assert entries[0]["message"] == f"token {REDACTED} and key {REDACTED}" and entries[0]["process"] == "dispatcher"
    assert entries[1]["message"] == 'quote " and newline\nin a message'
    inside, failed, after = entries[2:]
    assert (inside["response_id"], inside["call_control_id"], inside["event_id"]) == ("r-1", "v3:call-1", "ev-1")
    assert "command_id" not in inside and failed["command_id"] == "cmd-1" and failed["level"] == "ERROR"
    assert "RuntimeError" in failed["exception"] and ADMIN not in failed["exception"]
    assert not {"response_id", "command_id"} & after.keys()
    assert not any(secret in line for line in lines for secret in (ADMIN, "KEY0123456789", "pg-password-1"))


def test_text_lines_name_the_ids_too() -> None:
    lines = emit(TextFormatter(secrets=[ADMIN]))
    assert lines[0].endswith("inside a webhook [response_id=r-1 call_control_id=v3:call-1 event_id=ev-1]")
    assert "command_id=cmd-1" in lines[1] and ADMIN not in "\n".join(lines)
    assert lines[-1].endswith("survey_bot.test_observe: after")


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SURVEY_BOT_", "TELNYX_", "PROMETHEUS_")) or k == "SURVEY_BOT_DATA_KEY"}
    return subprocess.run([sys.executable, "-m", "survey_bot", *args], capture_output=True, text=True,
                          env={**clean, **env}, cwd=ROOT, timeout=60, check=False)


def test_an_unknown_log_format_is_refused_in_one_line() -> None:
    result = run_cli("forms", "check", SURVEY_BOT_LOG_FORMAT="xml")
    assert result.returncode == 2
    assert result.stderr.strip() == "survey-bot: SURVEY_BOT_LOG_FORMAT='xml' is not a log format: use text or json"


# --- the multiprocess set-up `serve` relies on ---------------------------------------------------------------


def test_the_cli_imports_prometheus_client_only_when_a_metric_is_used() -> None:
    # prometheus_client picks memory or files when imported: `serve` must set the directory first.
    code = "import sys, survey_bot.cli.main, survey_bot.web.app; assert 'prometheus_client' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_metrics_directory_is_private_or_cleaned(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    with metrics_directory(environ) as made:
        assert environ[ENV] == str(made) and made.is_dir()
    assert ENV not in environ and not made.exists()

    kept = tmp_path / "prometheus"
    kept.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name in (f"counter_{dead.pid}.db", f"histogram_{dead.pid}.db", f"counter_{os.getpid()}.db"):
        (kept / name).write_bytes(b"")
    with metrics_directory({ENV: str(kept)}) as used:
        assert used == kept
    assert sorted(p.name for p in kept.iterdir()) == [f"counter_{os.getpid()}.db"]
    assert remove_dead(kept) == [] and kept.is_dir()


def test_the_watchdog_has_its_counter() -> None:
    def hangups() -> float:
        return REGISTRY.get_sample_value("survey_bot_watchdog_actions_total", {"action": "hangup"}) or 0.0

    before = hangups()
    metrics.watchdog_action("hangup")
    assert hangups() == before + 1
