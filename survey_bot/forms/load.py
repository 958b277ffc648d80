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
from survey_bot.forms.catalogue import Phrases
from survey_bot.forms.check import ProviderCheck, check_document, errors_only, form_id_problem, read_json
from survey_bot.forms.conditions import Logic, build_logic
from survey_bot.forms.keypad import confirms, leaf_keypad
from survey_bot.forms.localised import (
    locales_of,
    number_locales,
    pick,
    transcription_for,
    translated,
    voice_settings,
)
from survey_bot.forms.model import DTMF_DEFAULTS, REASK_DEFAULTS, VOICE_DEFAULTS, Field, Form
from survey_bot.forms.opt_out import opt_out_key
from survey_bot.forms.phrases import greeting, humanize, prompt_of
from survey_bot.forms.placeholders import escape_braces, placeholder_names
from survey_bot.forms.schema_walk import Leaf, escape, leaves
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
    listed = list(enumerate(numbers)) if isinstance(numbers, list) else \
        [(escape(str(n)), n) for n in numbers] if isinstance(numbers, dict) else []
    for at, number in listed:
        owner = owners.setdefault(str(number), path.stem)
        if owner != path.stem:
            message = f"{number} already belongs to form {owner!r}"
            problems.append(FormProblem(str(path), f"/x-numbers/{at}", message))
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
    found = leaves(document)
    logic = build_logic(document, [leaf.path for leaf in found])
    locales = locales_of(document)
    views: dict[str, Form] = {}
    for locale in locales:  # one view per locale, sharing the document, the logic and the views
        views[locale] = _view(document, form_id, source, hashlib.sha256(canonical.encode()).hexdigest(), found,
                              logic, locales, locale, views)
    return views[locales[0]]


def _view(document: Mapping[str, Any], form_id: str, source: str, version: str, found: list[Leaf], logic: Logic,
          locales: tuple[str, ...], locale: str, views: dict[str, Form]) -> Form:
    """The form as one locale speaks it: its strings, phrases, voice and language."""
    default = locales[0]
    overrides = document.get("x-phrases", {}).get(locale, {})
    phrases = Phrases(locale, {k: v for k, v in overrides.items() if isinstance(v, str)})
    title = pick(document.get("x-title"), locale, default) or str(document.get("title") or humanize((form_id,)))
    # survey-bot's own words take no placeholders: their braces (a title's, a phrase's) are said as written
    voice = {**VOICE_DEFAULTS, "greeting": escape_braces(greeting(title, phrases)),
             **voice_settings(document, "x-voice", locale, default)}
    voice["transcription"] = transcription_for(document, locale, default, str(voice["language"]))
    dtmf = {**DTMF_DEFAULTS, "intro": escape_braces(phrases.text("keypad.intro")),
            "closing": phrases.text("keypad.closing"),
            **voice_settings(document, "x-dtmf", locale, default)}
    return Form(
        form_id=form_id,
        source=source,
        document=document,
        version=version,
        title=title,
        fields=tuple(_field(leaf, locale, default) for leaf in found),
        numbers=tuple(str(n) for n in document.get("x-numbers", ())),  # a list, or the keys of a mapping
        voice=voice,
        dtmf=dtmf,
        logic=logic,
        reask={**REASK_DEFAULTS, **document.get("x-reask", {})},
        retention_days=int(document["x-retention-days"]) if "x-retention-days" in document else None,
        audio=form_recordings(document),
        locales=locales,
        locale=locale,
        phrases=phrases,
        language_menu=document.get("x-language-menu") is True,
        number_locales=number_locales(document),
        ai_document=translated(document, locale, default),
        views=views,
        disclosure=pick(document.get("x-disclosure"), locale, default),
        opt_out_key=opt_out_key(document),
        placeholders=placeholder_names(document),
    )


def _field(leaf: Leaf, locale: str, default: str) -> Field:
    title = pick(leaf.schema.get("x-title"), locale, default) or str(leaf.schema.get("title")
                                                                      or humanize(leaf.path[-1:]))
    prompt = prompt_of(leaf.schema, leaf.path, locale, default)
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
