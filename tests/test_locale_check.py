"""`forms check` on the language keywords: x-locales, localised strings (each missing locale, each wrong type),
x-title / x-description, x-phrases, x-numbers mapped to locales, x-language-menu, x-voice.transcription, and
the two-language form that used to crash; always a pointer and a one-line message, never a traceback."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from survey_bot.forms.check import check_document
from survey_bot.telephony.form_rules import speech_problems

REPO = Path(__file__).resolve().parent.parent

BASE: dict[str, Any] = {
    "type": "object", "title": "Visit", "x-locales": ["en-US", "es-US"],
    "x-title": {"en-US": "Visit", "es-US": "Visita"},
    "x-voice": {"greeting": {"en-US": "Hello.", "es-US": "Hola."},
                "voice": {"en-US": "AWS.Polly.Joanna-Neural", "es-US": "AWS.Polly.Lupe-Neural"}},
    "x-dtmf": {"voice": {"en-US": "AWS.Polly.Joanna-Neural", "es-US": "AWS.Polly.Lupe-Neural"},
               "closing": {"en-US": "Bye.", "es-US": "Adiós."}},
    "properties": {"rating": {"type": "integer", "minimum": 1, "maximum": 5, "title": "Rating",
                              "x-title": {"en-US": "Rating", "es-US": "Calificación"},
                              "x-prompt": {"en-US": "Rate us.", "es-US": "Califíquenos."}}},
    "required": ["rating"],
}


def problems(change: dict[str, Any] | None = None, **at: Any) -> list[tuple[str, str, str]]:
    document = copy.deepcopy(BASE)
    for pointer, value in (change or {}).items():
        *parents, last = pointer.strip("/").split("/")
        node = document
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return [(p.pointer, p.message, p.severity) for p in check_document(document, "f.json", speech_problems)]


def test_a_two_locale_form_passes_clean() -> None:
    assert problems() == []


@pytest.mark.parametrize(("change", "pointer", "words"), [
    ({"/x-voice/greeting": {"en-US": "Hello."}}, "/x-voice/greeting", "no text for es-US"),
    ({"/x-voice/gather_ended_speech": {"es-US": "Gracias."}}, "/x-voice/gather_ended_speech", "no text for en-US"),
    ({"/x-voice/voice": {"en-US": "AWS.Polly.Joanna-Neural"}}, "/x-voice/voice", "no text for es-US"),
    ({"/x-dtmf/intro": {"en-US": "Keys."}}, "/x-dtmf/intro", "no text for es-US"),
    ({"/x-dtmf/closing": {"en-US": "Bye."}}, "/x-dtmf/closing", "no text for es-US"),
    ({"/x-dtmf/voice": {"es-US": "AWS.Polly.Lupe-Neural"}}, "/x-dtmf/voice", "no text for en-US"),
    ({"/properties/rating/x-prompt": {"en-US": "Rate us."}}, "/properties/rating/x-prompt", "no text for es-US"),
    ({"/properties/rating/x-title": {"en-US": "Rating"}}, "/properties/rating/x-title", "no text for es-US"),
    ({"/x-description": {"es-US": "Una visita."}}, "/x-description", "no text for en-US"),
    ({"/properties/mood": {"enum": ["ok", "bad"], "x-labels": {"en-US": {"ok": "fine"}}}}, "/properties/mood/x-labels",
     "no labels for es-US"),
    ({"/x-title": {"en-US": "Visit", "es-US": "Visita", "fr-FR": "Visite"}}, "/x-title/fr-FR",
     "fr-FR is not one of the form's locales"),
    ({"/x-title": {"en-US": "Visit", "es-US": "Visita", "nope!": "x"}}, "/x-title/nope!", "not a locale"),
])
def test_every_listed_locale_is_required_where_a_string_is_localised(change: dict[str, Any], pointer: str,
                                                                    words: str) -> None:
    found = problems(change)
    assert any(p == pointer and words in m and s == "error" for p, m, s in found), found


@pytest.mark.parametrize(("change", "pointer", "words"), [
    ({"/x-voice/greeting": 5}, "/x-voice/greeting", "takes a string or an object of strings keyed by locale"),
    ({"/x-dtmf/closing": ["Bye."]}, "/x-dtmf/closing", "takes a string or an object of strings keyed by locale"),
    ({"/properties/rating/x-prompt": True}, "/properties/rating/x-prompt", "takes a string or an object"),
    ({"/x-voice/greeting": {"en-US": "Hello.", "es-US": 7}}, "/x-voice/greeting/es-US",
     "the es-US text of greeting must be a non-empty string"),
    ({"/properties/rating/x-title": {"en-US": "", "es-US": "Calificación"}}, "/properties/rating/x-title/en-US",
     "must be a non-empty string"),
    ({"/x-locales": "en-US"}, "/x-locales", "not of type 'array'"),
    ({"/x-locales": []}, "/x-locales", "should be non-empty"),
    ({"/x-locales": ["en-US", "english"]}, "/x-locales/1", "not a BCP-47 locale"),
    ({"/x-locales": ["en-US", "es-US", "tlh-QO"]}, "/x-locales/2", "not a gather_using_speak language"),
    ({"/x-language-menu": "yes"}, "/x-language-menu", "not of type 'boolean'"),
    ({"/x-phrases": {"es-US": "hola"}}, "/x-phrases/es-US", "not of type 'object'"),
    ({"/x-phrases": {"es-US": {"keypad.invalid": 3}}}, "/x-phrases/es-US/keypad.invalid", "not of type 'string'"),
    ({"/x-numbers": {"+15550100001": 1}}, "/x-numbers/+15550100001", "1 is not a locale like es-US"),
    ({"/x-numbers": {"5550100001": "es-US"}}, "/x-numbers", "does not match"),
    ({"/x-voice/transcription": {"model": 5}}, "/x-voice/transcription/model", "not of type 'string'"),
    ({"/x-voice/transcription": {"model": "parrot/v1"}}, "/x-voice/transcription/model",
     "not a transcription model Telnyx knows"),
    ({"/x-voice/transcription": {"de-DE": {"model": "deepgram/nova-3"}}}, "/x-voice/transcription/de-DE",
     "not one of the form's locales"),
])
def test_wrong_types_and_values_are_errors_with_a_pointer(change: dict[str, Any], pointer: str, words: str) -> None:
    found = problems(change)
    assert any(p == pointer and words in m and s == "error" for p, m, s in found), found


@pytest.mark.parametrize(("change", "pointer", "words"), [
    ({"/x-voice/language": "es"}, "/x-voice/language", "remove x-voice.language"),
    ({"/x-dtmf/language": "es-US"}, "/x-dtmf/language", "remove x-dtmf.language"),
    ({"/x-phrases": {"fr-FR": {"keypad.invalid": "Non."}}}, "/x-phrases/fr-FR", "not one of the form's locales"),
    ({"/x-phrases": {"es-US": {"keypad.nope": "No."}}}, "/x-phrases/es-US/keypad.nope", "not a message id"),
    ({"/x-phrases": {"es-US": {"keypad.refused": "No: {motivo}."}}}, "/x-phrases/es-US/keypad.refused",
     "{motivo} is not a placeholder of this message (it has {reason})"),
    ({"/x-phrases": {"es-US": {"keypad.refused": "No {."}}}, "/x-phrases/es-US/keypad.refused", "write {{"),
    ({"/x-numbers": {"+15550100001": "fr-FR"}}, "/x-numbers/+15550100001", "not one of the form's locales"),
    ({"/x-language-menu": True, "/x-locales": ["en-US"]}, "/x-language-menu", "needs 2 to 9 locales"),
])
def test_language_rules_are_errors(change: dict[str, Any], pointer: str, words: str) -> None:
    found = problems(change)
    assert any(p == pointer and words in m and s == "error" for p, m, s in found), found


def test_a_locale_without_a_catalogue_needs_every_phrase_named() -> None:
    found = problems({"/x-locales": ["en-US", "es-US", "it-IT"]})
    message = next(m for p, m, s in found if p == "/x-locales/2")
    assert "ships no phrases for it-IT" in message and "keypad.invalid" in message and "reason.no_digits" in message
    almost = problems({"/x-locales": ["en-US", "es-US", "it-IT"],
                       "/x-phrases": {"it-IT": {"keypad.invalid": "Risposta non valida."}}})
    message = next(m for p, m, s in almost if p == "/x-phrases/it-IT")
    assert "keypad.invalid" not in message and "keypad.intro" in message


def test_a_plain_string_in_a_two_locale_form_warns() -> None:
    found = problems({"/x-voice/greeting": "Hello.", "/properties/rating/x-prompt": "Rate us."})
    assert {(p, s) for p, m, s in found if "plain string" in m} == \
        {("/x-voice/greeting", "warning"), ("/properties/rating/x-prompt", "warning")}
    assert all(s == "warning" for _, _, s in found)


def test_a_form_without_x_locales_keeps_its_one_language() -> None:
    single = {"type": "object", "x-dtmf": {"language": "es-US", "intro": {"es-US": "Teclado."}},
              "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 9}}}
    assert check_document(single, "f.json", speech_problems) == []
    single["x-dtmf"]["intro"] = {"en-US": "Keys."}
    assert [(p.pointer, p.message) for p in check_document(single, "f.json", speech_problems)] == \
        [("/x-dtmf/intro/en-US", "en-US is not one of the form's locales (es-US: x-locales)"),
         ("/x-dtmf/intro", "no text for es-US (x-locales lists it)")]


def test_the_two_language_form_from_the_issue_is_a_clear_error(tmp_path: Path) -> None:
    document = json.loads((REPO / "forms" / "customer_satisfaction.json").read_text())
    document.setdefault("x-voice", {})["language"] = ["en", "es"]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(document))
    result = subprocess.run([sys.executable, "-m", "survey_bot", "forms", "check", str(path)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{path}: /x-voice/language: x-voice.language takes one language; for a form in several, list their " \
           "locales in x-locales" in result.stdout
