"""One form, several languages: `x-locales` (the first the default), strings that are plain (the default
locale's, said in every locale) or objects keyed by locale, and the form as one locale sees it (its title and
descriptions from `x-title` / `x-description`, its voice, language and transcription).

One place for which text a locale gets, so that the loaded Form's per-locale views, `forms check` and the voice
AI's schema agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survey_bot.forms.labels import form_locale
from survey_bot.forms.schema_walk import map_subschemas

__all__ = ["DEFAULT_TRANSCRIPTION", "FIELD_STRINGS", "FORM_STRINGS", "ROOT_STRINGS", "ai_language", "locales_of",
           "number_locales", "pick", "transcription_for", "translated", "voice_settings"]

# Where a string may be localised: (form-level x- key, its key) and field-level keys.
FORM_STRINGS: tuple[tuple[str, str], ...] = (("x-voice", "greeting"), ("x-voice", "gather_ended_speech"),
                                             ("x-voice", "voice"), ("x-dtmf", "intro"), ("x-dtmf", "closing"),
                                             ("x-dtmf", "voice"))
FIELD_STRINGS: tuple[str, ...] = ("x-prompt",)
ROOT_STRINGS: tuple[str, ...] = ("x-disclosure",)  # the form's own localisable strings at its top level

# The speech-to-text model the voice AI gets for a language, unless x-voice.transcription says otherwise:
# deepgram/flux takes a language hint for these; Whisper transcribes the others (contract.md, section 7).
_FLUX_LANGUAGES = frozenset({"en", "es", "fr", "de", "pt", "it", "nl", "hi", "ru", "ja"})
DEFAULT_TRANSCRIPTION = "deepgram/flux"
_OTHER_TRANSCRIPTION = "openai/whisper-large-v3-turbo"


def locales_of(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The locales a (checked) form speaks, the default first: x-locales, else its keypad's one locale."""
    declared = document.get("x-locales")
    if isinstance(declared, list) and declared and all(isinstance(tag, str) for tag in declared):
        return tuple(dict.fromkeys(declared))
    return (form_locale(document),)


def number_locales(document: Mapping[str, Any]) -> dict[str, str]:
    """The locale each called number gives its calls: x-numbers as an object; the list form gives none."""
    numbers = document.get("x-numbers")
    return {str(n): str(tag) for n, tag in numbers.items()} if isinstance(numbers, Mapping) else {}


def pick(value: Any, locale: str, default: str) -> str | None:
    """The text for `locale` of a localisable string: a plain string is everyone's; an object gives the
    locale's entry, else the default locale's; None: nothing usable."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in (locale, default):
            if isinstance(value.get(key), str):
                return str(value[key])
    return None


def ai_language(locale: str) -> str:
    """The ISO-639 code gather_using_ai takes for a locale: es-US is es."""
    return locale.split("-")[0].lower()


def transcription_for(document: Mapping[str, Any], locale: str, default: str, language: str) -> dict[str, str]:
    """gather_using_ai's transcription for a locale speaking `language` (ISO-639): x-voice.transcription (plain
    or per locale) over the default model for that language, always with a language."""
    voice = document.get("x-voice")
    declared = voice.get("transcription") if isinstance(voice, Mapping) else None
    if isinstance(declared, Mapping) and not ({"model", "language"} & set(declared)):
        declared = declared.get(locale, declared.get(default))
    model = DEFAULT_TRANSCRIPTION if language in _FLUX_LANGUAGES else _OTHER_TRANSCRIPTION
    chosen = dict(declared) if isinstance(declared, Mapping) else {}
    return {"model": str(chosen.get("model", model)), "language": str(chosen.get("language", language))}


def voice_settings(document: Mapping[str, Any], key: str, locale: str, default: str) -> dict[str, Any]:
    """x-voice or x-dtmf for one locale: every localisable string picked; with x-locales, its language (the
    transcription is transcription_for's)."""
    declared = document.get(key)
    settings = {k: v for k, v in declared.items() if k != "transcription"} if isinstance(declared, Mapping) else {}
    for owner, name in FORM_STRINGS:
        if owner == key and name in settings:
            text = pick(settings[name], locale, default)
            settings.pop(name) if text is None else settings.__setitem__(name, text)
    if "x-locales" in document:
        settings["language"] = ai_language(locale) if key == "x-voice" else locale
    return settings


def translated(schema: Any, locale: str, default: str, _pointer: str = "") -> Any:
    """The schema with each `title` and `description` replaced by its x-title / x-description for `locale`
    (where one is given), at the form and field level alike."""
    if not isinstance(schema, dict):
        return schema
    out = map_subschemas(schema, lambda child, at: translated(child, locale, default, at), _pointer)
    for name in ("title", "description"):
        text = pick(out.get(f"x-{name}"), locale, default)
        if text is not None:
            out = {**out, name: text}
    return out
