"""What `survey-bot simulate` does: load the forms and the scenario files, play them on a fresh (or named)
database, print the outcomes; or write a form's starting scenario file with the expectations it passes."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

from survey_bot.config import Settings
from survey_bot.errors import ConfigError
from survey_bot.runtime import load_catalog
from survey_bot.sandbox.campaign_runs import simulate_campaigns
from survey_bot.sandbox.examples import example_document
from survey_bot.sandbox.scenario_file import load_scenario_document, load_scenario_file
from survey_bot.sandbox.simulate import CallOutcome, simulate
from survey_bot.sandbox.summary import describe, describe_campaign, totals
from survey_bot.sandbox.workspace import prepare_database, temporary_database_url

__all__ = ["example", "play"]


def _forms_folder(forms_dir: Path | None) -> Path:
    return Settings.load({"forms_dir": forms_dir} if forms_dir else None).forms_path


async def play(paths: list[Path], forms_dir: Path | None, database_url: str | None, *, check: bool,
               as_json: bool) -> int:
    """Play the files; print each call's outcome (text or JSON); 1 when a checked call differs or got stuck."""
    folder = _forms_folder(forms_dir)
    catalog = load_catalog(Settings(forms_dir=folder))
    files = [load_scenario_file(path, catalog.forms) for path in paths]  # every file checked before any plays
    url = await prepare_database(database_url or temporary_database_url("simulate"))
    overrides = {"forms_dir": folder, "admin_token": secrets.token_urlsafe(24)}
    outcomes = await simulate(files, url, overrides, check=check)
    campaigns = await simulate_campaigns(files, url, overrides, check=check)
    passed = all(o.passed for o in outcomes) and all(c.passed for c in campaigns)
    if as_json:
        print(json.dumps({"database": url, "calls": [o.as_json() for o in outcomes],
                          "campaigns": [c.as_json() for c in campaigns], "passed": passed},
                         indent=2, ensure_ascii=False))
    else:
        for outcome in outcomes:
            print("\n".join(describe(outcome)) + "\n")
        for campaign in campaigns:
            print("\n".join(describe_campaign(campaign)) + "\n")
        print(totals(outcomes, campaigns))
        print(f"(responses kept in {url})", file=sys.stderr)
    return 0 if passed else 1


async def example(form_id: str, forms_dir: Path | None) -> dict[str, Any]:
    """A starting scenario file for the form, each call's `expect` as the simulator saw it end."""
    folder = _forms_folder(forms_dir)
    catalog = load_catalog(Settings(forms_dir=folder))
    form = catalog.forms.get(form_id)
    if form is None:
        raise ConfigError(f"no form {form_id!r} in {folder} (known: {', '.join(sorted(catalog.forms)) or 'none'})")
    document = example_document(form)
    loaded = load_scenario_document(document, f"<example of {form_id}>", catalog.forms)
    url = await prepare_database(temporary_database_url("example"))
    outcomes = await simulate([loaded], url, {"forms_dir": folder, "admin_token": secrets.token_urlsafe(24)})
    for call, outcome in zip(document["calls"], outcomes, strict=True):
        call["expect"] = _observed(outcome)
    return document


def _observed(outcome: CallOutcome) -> dict[str, Any]:
    if outcome.error is not None:
        raise ConfigError(f"the example call {outcome.name!r} could not be played: {outcome.error}")
    return {"status": outcome.status, "answers": outcome.answers, "sources": outcome.sources,
            "asked_on_keypad": outcome.asked_on_keypad}
