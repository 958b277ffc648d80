"""Scenario files: a form's tests as data. Read (JSON or YAML), checked against scenario_schema.json and against
the form they name (every problem with a JSON pointer, never a traceback), and turned into simulator calls.

The file's shape is documented in the README ("Test your form") and published as scenario_schema.json.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from survey_bot.errors import FormProblem, ScenarioError
from survey_bot.forms.model import Form
from survey_bot.forms.schema_walk import pointer_of
from survey_bot.sandbox.scenario_calls import Expectation, ScenarioCall, call_problems, scenario_call
from survey_bot.sandbox.scenario_campaign import ScenarioCampaign, campaign_problems, scenario_campaign

__all__ = ["SCHEMA_PATH", "Expectation", "ScenarioCall", "ScenarioFile", "load_scenario_document", "load_scenario_file",
           "parse_scenario", "read_scenario"]

SCHEMA_PATH = Path(__file__).with_name("scenario_schema.json")


@dataclass(frozen=True)
class ScenarioFile:
    """A checked scenario file."""

    path: Path
    form_id: str
    calls: tuple[ScenarioCall, ...]
    campaign: ScenarioCampaign | None = None  # a small campaign played by sandbox.campaign_runs


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def read_scenario(path: Path) -> Any:
    """The file's data (JSON, or YAML for .yaml/.yml); ScenarioError with the line for a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([FormProblem(str(path), "", f"cannot read the file: {exc}")]) from None
    return parse_scenario(text, str(path), yaml_text=path.suffix.lower() in (".yaml", ".yml"))


def parse_scenario(text: str, source: str, *, yaml_text: bool = False) -> Any:
    """Scenario data from JSON (or YAML) text; ScenarioError with the line for a syntax error."""
    try:
        return yaml.safe_load(text) if yaml_text else json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        message = f"invalid YAML{where}: {getattr(exc, 'problem', None) or exc}"
    raise ScenarioError([FormProblem(source, "", message)])


def load_scenario_file(path: Path, forms: Mapping[str, Form]) -> ScenarioFile:
    """Read and check a scenario file against the forms it may name (raises ScenarioError with every problem)."""
    return load_scenario_document(read_scenario(path), str(path), forms, path)


def load_scenario_document(data: Any, source: str, forms: Mapping[str, Form], path: Path | None = None) -> ScenarioFile:
    """Check scenario data (as read from a file, or built) against the forms (raises ScenarioError)."""
    problems = [FormProblem(source, pointer, message) for pointer, message in _schema_problems(data)]
    if problems:
        raise ScenarioError(problems)
    form = forms.get(data["form"])
    if form is None:
        known = ", ".join(sorted(forms)) or "none"
        raise ScenarioError([FormProblem(source, "/form", f"no form {data['form']!r} (known: {known})")])
    problems = [FormProblem(source, pointer, message) for pointer, message in _form_problems(data, form)]
    if problems:
        raise ScenarioError(problems)
    calls = tuple(scenario_call(call, f"/calls/{i}", form) for i, call in enumerate(data.get("calls", [])))
    campaign = scenario_campaign(data["campaign"], form) if "campaign" in data else None
    return ScenarioFile(path or Path(source), form.form_id, calls, campaign)


def _schema_problems(data: Any) -> list[tuple[str, str]]:
    found = []
    for error in _validator().iter_errors(data):
        if error.context:
            error = best_match(error.context) or error
        found.append((pointer_of(error.absolute_path), _message(error)))
    return found


def _message(error: ValidationError) -> str:
    """jsonschema's message, in the file's own terms where it would speak of schema keywords."""
    path = [str(part) for part in error.absolute_path]
    if error.validator == "additionalProperties":
        return str(error.message).replace("Additional properties are not allowed", "unknown key")
    if error.validator == "oneOf" and len(path) >= 2 and path[-2] == "ai":
        return "an AI step is one of `partial`, `history` or `end` (with its `result`), one per step"
    if error.validator == "pattern" and len(path) >= 2 and "keypad" in path:
        return f"{error.instance!r} is not a keypad entry: digits such as \"7#\", or timeout, invalid, hangup"
    return str(error.message)


def _form_problems(data: Mapping[str, Any], form: Form) -> Iterator[tuple[str, str]]:
    for i, call in enumerate(data.get("calls", [])):
        yield from call_problems(call, f"/calls/{i}", form)
    if "campaign" in data:
        yield from campaign_problems(data["campaign"], form)
