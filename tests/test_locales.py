"""The phrases survey-bot says, per locale: the shipped message catalogues, x-phrases, numbers and dates read
back the locale's way, and the per-locale views of a form (its strings, voice, language, transcription)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from survey_bot.forms.catalogue import LOCALES_DIR, MESSAGE_IDS, SHIPPED, Phrases, catalogue_for, placeholders
from survey_bot.forms.keypad import Keypad
from survey_bot.forms.load import parse_form
from survey_bot.forms.phrases import read_back
from survey_bot.telephony.arguments import ai_gather_arguments, speak_gather_arguments

ROOT = Path(__file__).resolve().parent.parent


def test_catalogues_ship_for_the_five_languages_with_every_message() -> None:
    assert {"en", "es", "fr", "de", "pt"} <= set(SHIPPED)
    for language in SHIPPED:
        catalogue = catalogue_for(language)
        assert sorted(catalogue) == sorted(MESSAGE_IDS), language
        for message_id, text in catalogue.items():  # whole sentences with the same named placeholders
            assert placeholders(text) == placeholders(catalogue_for("en")[message_id]), (language, message_id)


def test_a_regular_install_ships_the_catalogues() -> None:
    """The .po sources are read as they are (no compile step): pyproject's package data must name each one."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["survey_bot"]
    sources = [p.relative_to(LOCALES_DIR.parent).as_posix() for p in LOCALES_DIR.rglob("*.po")]
    assert len(sources) == len(SHIPPED) >= 5
    assert all(any(fnmatch.fnmatch(source, pattern) for pattern in data) for source in sources)


def test_the_readme_lists_every_message_id() -> None:
    readme = (ROOT / "README.md").read_text()
    assert [m for m in MESSAGE_IDS if f"`{m}`" not in readme] == []


def test_numbers_dates_and_lists_are_said_the_locale_way() -> None:
    spanish, english = Phrases("es-US"), Phrases("en-US")
    date = Keypad("date", {}, 8, 8, "")
    assert read_back("2024-03-15", date, {}, spanish).startswith("Usted marcó 15 de marzo de 2024.")
    assert read_back("2024-03-15", date, {}, english).startswith("You entered March 15, 2024.")
    assert Phrases("es-ES").number(3.5) == "3,5" and english.number(3.5) == "3.5" and english.number(1900) == "1900"
    assert Phrases("de-DE").listed(["a", "b", "c"]) == "a, b und c"
    assert Phrases("fr-FR").key("#") == "dièse" and english.key("*") == "star"


def test_x_phrases_override_a_message_for_one_locale() -> None:
    form = parse_form(_form({"x-phrases": {"es-US": {"keypad.invalid": "Esa tecla no vale."}}}), "f")
    assert speak_gather_arguments(form.for_locale("es-US"), form.field("n"))["invalid_payload"] == \
        "Esa tecla no vale."
    assert speak_gather_arguments(form, form.field("n"))["invalid_payload"] == "Sorry, that is not a valid answer."


def test_each_locale_view_speaks_its_language_voice_and_transcription() -> None:
    form = parse_form(_form({}), "f")
    spanish = form.for_locale("es-US")
    assert (form.locale, spanish.locale, form.for_locale("xx-YY").locale) == ("en-US", "es-US", "en-US")
    ai = ai_gather_arguments(spanish)
    assert (ai["language"], ai["voice"], ai["greeting"]) == ("es", "AWS.Polly.Lupe-Neural", "Hola.")
    assert ai["transcription"] == {"model": "deepgram/flux", "language": "es"}
    assert ai["parameters"]["properties"]["n"]["title"] == "Número"  # x-title for the AI's schema
    keypad = speak_gather_arguments(spanish, spanish.field("n"), intro=True)
    assert (keypad["language"], keypad["voice"]) == ("es-US", "AWS.Polly.Lupe-Neural")
    assert keypad["payload"] == "Le haré las preguntas restantes por el teclado. ¿Cuántos? Marque un número del 0 " \
                                "al 9 y luego oprima numeral."
    assert ai_gather_arguments(form)["transcription"] == {"model": "deepgram/flux", "language": "en"}


def _form(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object", "title": "Count", "x-locales": ["en-US", "es-US"],
        "x-voice": {"greeting": {"en-US": "Hello.", "es-US": "Hola."},
                    "voice": {"en-US": "AWS.Polly.Joanna-Neural", "es-US": "AWS.Polly.Lupe-Neural"}},
        "x-dtmf": {"voice": {"en-US": "AWS.Polly.Joanna-Neural", "es-US": "AWS.Polly.Lupe-Neural"}},
        "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9, "title": "Number",
                             "x-title": {"en-US": "Number", "es-US": "Número"},
                             "x-prompt": {"en-US": "How many?", "es-US": "¿Cuántos?"}}},
        "required": ["n"], **extra}


@pytest.mark.parametrize("language", ["es", "fr", "de", "pt"])
def test_no_translation_is_left_in_english(language: str) -> None:
    english = catalogue_for("en")
    same = [m for m, text in catalogue_for(language).items() if text == english[m] and re.search(r"[a-z]{3}", text)]
    assert same == []
