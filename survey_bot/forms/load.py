"""Load forms: read `forms/<form_id>.json`, check them (every problem, with JSON pointers) and build Forms.

A form is a JSON Schema draft 2020-12 object schema plus `x-voice`, `x-dtmf`, `x-numbers` (form level)
and `x-prompt`, `x-dtmf` (field level); `form_vocabulary.json` is the meta-schema editors can use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from survey_bot.errors import ConfigError, FormError, FormProblem
from survey_bot.forms.audio import field_recording, form_recordings
from survey_bot.forms.check import ProviderCheck, check_document, errors_only, form_id_problem, read_json
from survey_bot.forms.conditions import build_logic
from survey_bot.forms.keypad import confirms, leaf_keypad
from survey_bot.forms.labels import form_locale
from survey_bot.forms.model import DTMF_DEFAULTS, REASK_DEFAULTS, VOICE_DEFAULTS, Field, Form
from survey_bot.forms.opt_out import opt_out_key
from survey_bot.forms.phrases import greeting, humanize, prompt_of
from survey_bot.forms.schema_walk import Leaf, leaves
from survey_bot.forms.sensitive import sensitivity

__all__ = ["check_paths", "load_form", "load_forms", "parse_form"]


def check_paths(paths: Iterable[Path], provider_check: ProviderCheck | None = None) -> list[FormProblem]:
    """Return every problem of the form files, including numbers claimed by two forms."""
    return _read_all(list(paths), provider_check)[1]


def _read_all(paths: list[Path], provider_check: ProviderCheck | None) -> tuple[dict[Path, Any], list[FormProblem]]:
    documents: dict[Path, Any] = {}
    problems: list[FormProblem] = []
    owners: dict[str, str] = {}
    for path in paths:
        document, found = read_json(path)
        id_problem = form_id_problem(path.stem, str(path))
        found += [id_problem] if id_problem else []
        if document is not None:
            found += check_document(document, str(path), provider_check)
            found += _claim_numbers(document, path, owners)
            documents[path] = document
        problems += found
    return documents, problems


def _claim_numbers(document: Any, path: Path, owners: dict[str, str]) -> list[FormProblem]:
    numbers = document.get("x-numbers") if isinstance(document, dict) else None
    problems = []
    for i, number in enumerate(numbers if isinstance(numbers, list) else []):
        owner = owners.setdefault(str(number), path.stem)
        if owner != path.stem:
            message = f"{number} already belongs to form {owner!r}"
            problems.append(FormProblem(str(path), f"/x-numbers/{i}", message))
    return problems


def parse_form(document: Mapping[str, Any], form_id: str, source: str = "<memory>",
               provider_check: ProviderCheck | None = None) -> Form:
    """Check a form document and build its Form (raises FormError with every problem)."""
    problems = errors_only(check_document(document, source, provider_check))
    id_problem = form_id_problem(form_id, source)
    if problems or id_problem:
        raise FormError(([id_problem] if id_problem else []) + problems)
    document = json.loads(json.dumps(document))  # a plain copy the caller cannot change under us
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    title = str(document.get("title") or humanize((form_id,)))
    found = leaves(document)
    return Form(
        form_id=form_id,
        source=source,
        document=document,
        version=hashlib.sha256(canonical.encode()).hexdigest(),
        title=title,
        fields=tuple(_field(leaf, form_locale(document)) for leaf in found),
        numbers=tuple(document.get("x-numbers", ())),
        voice={**VOICE_DEFAULTS, "greeting": greeting(title), **document.get("x-voice", {})},
        dtmf={**DTMF_DEFAULTS, **document.get("x-dtmf", {})},
        logic=build_logic(document, [leaf.path for leaf in found]),
        reask={**REASK_DEFAULTS, **document.get("x-reask", {})},
        retention_days=int(document["x-retention-days"]) if "x-retention-days" in document else None,
        audio=form_recordings(document),
        disclosure=str(document["x-disclosure"]) if "x-disclosure" in document else None,
        opt_out_key=opt_out_key(document),
    )


def _field(leaf: Leaf, locale: str) -> Field:
    title = str(leaf.schema.get("title") or humanize(leaf.path[-1:]))
    prompt = prompt_of(leaf.schema, leaf.path)
    keypad = leaf_keypad(leaf)[0]
    return Field(".".join(leaf.path), leaf.path, leaf.schema, leaf.required, title, prompt, keypad,
                 confirms(leaf.schema, keypad), field_recording(leaf.schema, locale) if keypad else None,
                 sensitivity(leaf.schema))


def load_form(path: Path, provider_check: ProviderCheck | None = None) -> Form:
    """Read, check and parse one form file (raises FormError)."""
    return _parse_all([path], provider_check)[path.stem]


def load_forms(folder: Path, provider_check: ProviderCheck | None = None) -> dict[str, Form]:
    """Load every `*.json` form in `folder` by form id (raises FormError with all problems of all files, or
    ConfigError when the folder is missing)."""
    if not folder.is_dir():
        raise ConfigError(f"the forms folder {folder} does not exist (set SURVEY_BOT_FORMS_DIR, or pass --forms)")
    return _parse_all(sorted(folder.glob("*.json")), provider_check)


def _parse_all(paths: list[Path], provider_check: ProviderCheck | None) -> dict[str, Form]:
    documents, problems = _read_all(paths, provider_check)
    if errors_only(problems):
        raise FormError(errors_only(problems))
    # (already checked above, provider rules included)
    return {path.stem: parse_form(document, path.stem, str(path)) for path, document in documents.items()}
