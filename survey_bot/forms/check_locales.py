"""What `forms check` says about a form's languages: x-locales, every localised string (each listed locale
given, no other), x-phrases (known message ids, their own placeholders, every message for a locale survey-bot
ships no catalogue for), x-numbers mapped to locales, x-language-menu, and the languages x-locales decides.

Errors and warnings are (JSON pointer, message) pairs; the vocabulary has already reported the shapes, so
values of another type are skipped here, never raised on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from survey_bot.forms.catalogue import catalogue_for, missing_messages, placeholders
from survey_bot.forms.labels import is_locale
from survey_bot.forms.localised import FIELD_STRINGS, FORM_STRINGS, ROOT_STRINGS, locales_of
from survey_bot.forms.schema_walk import escape, walk

__all__ = ["locale_problems", "locale_warnings"]

Problems = list[tuple[str, str]]
_MENU_KEYS = 9


def _strings(document: Mapping[str, Any]) -> Iterator[tuple[str, Any, bool]]:
    """Every localisable string of the form: (pointer, value, whether a plain string is said in every locale
    (False: a title or description, whose plain string is JSON Schema's own))."""
    for owner, name in FORM_STRINGS:
        settings = document.get(owner)
        if isinstance(settings, Mapping) and name in settings:
            yield f"/{owner}/{name}", settings[name], True
    for name in ROOT_STRINGS:
        if name in document:
            yield f"/{name}", document[name], True
    for schema, pointer in walk(dict(document), ""):
        for name in (*FIELD_STRINGS, "x-title", "x-description"):
            if name in schema:
                yield f"{pointer}/{name}", schema[name], name in FIELD_STRINGS


def locale_problems(document: Mapping[str, Any]) -> Problems:
    """Every error of the form's languages."""
    locales = locales_of(document)
    declared = document.get("x-locales")
    found: Problems = []
    if isinstance(declared, list):
        found += [(f"/x-locales/{i}", f"{tag!r} is not a BCP-47 locale like en-US or es-US")
                  for i, tag in enumerate(declared) if isinstance(tag, str) and not is_locale(tag)]
        for owner in ("x-voice", "x-dtmf"):
            settings = document.get(owner)
            if isinstance(settings, Mapping) and "language" in settings:
                found.append((f"/{owner}/language", f"with x-locales each call's language comes from its locale: "
                                                    f"remove {owner}.language"))
    for pointer, value, _ in _strings(document):
        if isinstance(value, Mapping):
            found += _per_locale(value, pointer, locales, "text")
    # per-locale labels in a form with x-locales: every locale (labels.py checks the rest; a single-language
    # form may label only some locales, the others said humanised)
    for schema, pointer in walk(dict(document), "") if "x-locales" in document else ():
        labels = schema.get("x-labels")
        if isinstance(labels, Mapping) and labels and all(isinstance(v, Mapping) for v in labels.values()):
            found += [(f"{pointer}/x-labels", f"no labels for {locale} (x-locales lists it)")
                      for locale in locales if locale not in labels]
    found += _transcription(document, locales)
    found += _phrases(document, locales)
    found += _numbers(document, locales)
    if document.get("x-language-menu") is True and not 2 <= len(locales) <= _MENU_KEYS:
        found.append(("/x-language-menu", f"a language menu needs 2 to {_MENU_KEYS} locales in x-locales "
                                          f"(it has {len(locales)})"))
    return found


def _per_locale(value: Mapping[str, Any], pointer: str, locales: tuple[str, ...], what: str) -> Problems:
    found: Problems = []
    for key in value:
        if not is_locale(key):
            found.append((f"{pointer}/{escape(key)}", f"{key!r} is not a locale like es-US"))
        elif key not in locales:
            found.append((f"{pointer}/{escape(key)}", f"{key} is not one of the form's locales "
                                                      f"({', '.join(locales)}: x-locales)"))
    found += [(pointer, f"no {what} for {locale} (x-locales lists it)") for locale in locales if locale not in value]
    return found


def _transcription(document: Mapping[str, Any], locales: tuple[str, ...]) -> Problems:
    voice = document.get("x-voice")
    declared = voice.get("transcription") if isinstance(voice, Mapping) else None
    if not isinstance(declared, Mapping) or {"model", "language"} & set(declared):
        return []
    return [(f"/x-voice/transcription/{escape(key)}", f"{key!r} is not one of the form's locales "
                                                      f"({', '.join(locales)})")
            for key in declared if key not in locales]


def _phrases(document: Mapping[str, Any], locales: tuple[str, ...]) -> Problems:
    declared = document.get("x-phrases")
    table: Mapping[str, Any] = declared if isinstance(declared, Mapping) else {}
    found: Problems = []
    english = catalogue_for("en")
    for locale, overrides in table.items():
        at = f"/x-phrases/{escape(locale)}"
        if locale not in locales:
            found.append((at, f"{locale!r} is not one of the form's locales ({', '.join(locales)})"))
        for message_id, text in overrides.items() if isinstance(overrides, Mapping) else ():
            where = f"{at}/{escape(message_id)}"
            if message_id not in english:
                found.append((where, f"{message_id!r} is not a message id (README, Phrases: keypad.invalid, ...)"))
            elif isinstance(text, str):
                found += _placeholders(text, english[message_id], where)
    for i, locale in enumerate(locales):
        entry = table.get(locale)
        missing = missing_messages(locale, entry if isinstance(entry, Mapping) else {})
        if missing:
            at = f"/x-phrases/{escape(locale)}" if locale in table else \
                f"/x-locales/{i}" if "x-locales" in document else "/x-dtmf/language"
            found.append((at, f"survey-bot ships no phrases for {locale}: x-phrases.{locale} must give every "
                              f"message; missing {', '.join(missing)}"))
    return found


def _placeholders(text: str, english: str, where: str) -> Problems:
    try:
        extra = placeholders(text) - placeholders(english)
    except ValueError:
        return [(where, "a { or } that is no placeholder: write {{ or }} to say a brace")]
    allowed = ", ".join("{" + p + "}" for p in sorted(placeholders(english))) or "none"
    return [(where, f"{{{name}}} is not a placeholder of this message (it has {allowed})") for name in sorted(extra)]


def _numbers(document: Mapping[str, Any], locales: tuple[str, ...]) -> Problems:
    numbers = document.get("x-numbers")
    if not isinstance(numbers, Mapping):
        return []
    return [(f"/x-numbers/{escape(number)}", f"{locale!r} is not one of the form's locales ({', '.join(locales)})")
            for number, locale in numbers.items() if isinstance(locale, str) and locale not in locales]


def locale_warnings(document: Mapping[str, Any]) -> Problems:
    """A plain string in a form that speaks several locales: said as written in every one of them."""
    locales = locales_of(document)
    if "x-locales" not in document or len(locales) < 2:
        return []
    return [(pointer, f"a plain string is {locales[0]}'s text, said in every locale ({', '.join(locales[1:])} "
                      "too): give one per locale, {\"" + locales[1] + "\": \"...\"}")
            for pointer, value, said in _strings(document) if said and isinstance(value, str)]

