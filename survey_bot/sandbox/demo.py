"""`survey-bot demo`: example calls on the built-in Telnyx simulator, then what each call collected.

No Telnyx account and no set-up: a temporary SQLite database is migrated, the fake Telnyx and the app run on
loopback over real HTTP, the scripted callers ring in, and a summary per call says how it ended, each answer
and whether the AI or the keypad got it, and where the data is. The calls are the bundled example forms'
scenario files (forms/scenarios/), whatever folder the demo runs from; with `forms`, the user's own forms,
each played by the example callers `survey-bot simulate --example` would write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

from survey_bot.campaigns.settings import format_duration
from survey_bot.config import Settings, shipped_folder
from survey_bot.forms.model import FormCatalog
from survey_bot.reports.campaigns import report_lines
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.callees import example_callees
from survey_bot.sandbox.campaign_runs import play_campaign
from survey_bot.sandbox.examples import example_document
from survey_bot.sandbox.scenario_file import ScenarioFile, load_scenario_document, load_scenario_file
from survey_bot.sandbox.simulate import CallOutcome, simulate
from survey_bot.sandbox.stack import Stack, running_stack, sandbox_key
from survey_bot.sandbox.summary import describe
from survey_bot.sandbox.try_it import attach_simulator
from survey_bot.sandbox.workspace import prepare_database, temporary_database_url

__all__ = ["run_demo"]


def demo_files(forms_dir: Path | None) -> tuple[Path, FormCatalog, list[ScenarioFile]]:
    """The forms the demo runs and the calls it plays on them."""
    folder = forms_dir or shipped_folder("forms")
    catalog = load_catalog(Settings(forms_dir=folder))
    if forms_dir is None:
        found = [*(folder / "scenarios").glob("*.json"), *(folder / "scenarios").glob("*.yaml")]
        files = [load_scenario_file(path, catalog.forms) for path in sorted(found)]
    else:
        files = [load_scenario_document(example_document(form), f"<example calls of {form.form_id}>", catalog.forms)
                 for form in catalog.forms.values()]
    return folder, catalog, files


async def run_demo(keep: Path | None = None, out: TextIO | None = None, serve_port: int | None = None,
                   forms_dir: Path | None = None) -> int:
    """Play the demo's calls; print a summary of each; return 0 when every call ended.

    With `serve_port`, keep the app and simulator running afterwards so the dashboard can be opened.
    """
    out = out or sys.stdout
    folder, catalog, files = demo_files(forms_dir)
    url = await prepare_database(f"sqlite+aiosqlite:///{keep}" if keep else temporary_database_url("demo"))
    whose = "your forms" if forms_dir else "the bundled example forms"
    print(f"survey-bot demo: {whose} ({', '.join(catalog.forms)}) from {folder}", file=out)
    print(f"simulator + app on 127.0.0.1, database {url.split(':///', 1)[1]}", file=out)
    token = secrets.token_urlsafe(12)
    overrides = {"forms_dir": folder, "admin_token": token}
    outcomes: list[CallOutcome] = await simulate(files, url, overrides)
    for outcome in outcomes:
        print("\n" + "\n".join(describe(outcome)), file=out)
    first = files[0].form_id if files else "FORM_ID"
    print(f"\n{len(outcomes)} calls played on the simulated Telnyx.", file=out)
    campaign_done = all([await _campaign(scenario_file, url, overrides, out) for scenario_file in files
                         if scenario_file.campaign is not None])
    print(f"The responses are in {url.split(':///', 1)[1]}; export them with:\n"
          f"  SURVEY_BOT_DATABASE_URL={url} survey-bot export {first}", file=out, flush=True)
    if serve_port is not None:
        overrides["default_form"] = first
        async with running_stack(url, overrides, app_port=serve_port) as stack:
            stack.fake.callee = example_callees(stack.app)
            attach_simulator(stack)
            _print_serving(out, stack, url, folder, token, first)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
    return 0 if campaign_done and all(o.error is None and o.status != "in_progress" for o in outcomes) else 1


async def _campaign(scenario_file: ScenarioFile, url: str, overrides: dict[str, object], out: TextIO) -> bool:
    """Run a bundled file's campaign to its end on the simulator and print its report; say whether it finished."""
    campaign = scenario_file.campaign
    assert campaign is not None
    rules = campaign.settings
    print(f"\nA small campaign ({len(campaign.contacts)} contacts, up to {rules.max_attempts} attempts, retries "
          f"after {format_duration(rules.retry_after_seconds)}) on {scenario_file.form_id}:", file=out, flush=True)
    async with running_stack(url, overrides) as stack:
        run = await play_campaign(stack, scenario_file, campaign)
    if run.report is not None:
        print("\n".join(report_lines(run.report)), file=out)
    finished = run.error is None and not run.cancelled
    print(f"  {run.calls} calls placed for {len(run.contacts)} contacts; campaign "
          f"{'finished' if finished else run.error or 'cancelled: nothing was due'}", file=out, flush=True)
    return finished


def _print_serving(out: TextIO, stack: Stack, url: str, folder: Path, token: str, form_id: str) -> None:
    settings = f"SURVEY_BOT_DATABASE_URL={url} SURVEY_BOT_FORMS_DIR={folder} TELNYX_BASE_URL={stack.telnyx_url} " \
               f"TELNYX_API_KEY=KEY_simulator TELNYX_CONNECTION_ID={stack.fake.connection_id} " \
               "SURVEY_BOT_FROM_NUMBER=+15550009999" + \
               (f" SURVEY_BOT_DATA_KEY={sandbox_key()}" if not os.environ.get("SURVEY_BOT_DATA_KEY") else "")
    print(f"\nDashboard: {stack.app_url}/dashboard/  (admin token: {token})\n"
          f"Simulated Telnyx: {stack.telnyx_url} (its callees answer as the form's example caller). Call through it:\n"
          f"  {settings} survey-bot call +15557654321 --form {form_id}\n"
          f"or: curl -X POST {stack.app_url}/api/calls -H 'Authorization: Bearer {token}' "
          f"-H 'Content-Type: application/json' -d '{{\"to\": \"+15557654321\", \"form\": \"{form_id}\"}}'\n"
          "Try the forms on the dashboard too; press Ctrl-C to stop.", file=out, flush=True)
