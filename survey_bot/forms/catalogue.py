"""The phrases survey-bot itself says, in the caller's language: gettext message catalogues shipped in the
package (`survey_bot/locales/<lang>/LC_MESSAGES/survey_bot.po`, read with Babel), overridden per form and locale
by `x-phrases`, and numbers, dates, times and lists said the way the locale says them (babel.numbers,
babel.dates, babel.lists).

Every message is a whole sentence (or a whole clause) with named placeholders: translations are never pieced
together from fragments. The .po sources are read as they are (no compiled .mo), so an editable install, a
wheel and a source checkout all read the same files.
"""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = ["LOCALES_DIR", "MESSAGE_IDS", "SHIPPED", "Phrases", "catalogue_for", "language_name",
           "missing_messages", "placeholders"]

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
_DOMAIN = "survey_bot.po"


@functools.cache
def _read(language: str) -> dict[str, str]:
    """One shipped catalogue: message id -> text (empty when the package ships none for `language`)."""
    path = LOCALES_DIR / language / "LC_MESSAGES" / _DOMAIN
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    return {str(m.id): str(m.string) for m in catalogue if m.id and isinstance(m.string, str) and m.string}


SHIPPED: tuple[str, ...] = tuple(sorted(p.name for p in LOCALES_DIR.iterdir()
                                        if (p / "LC_MESSAGES" / _DOMAIN).is_file()))
MESSAGE_IDS: tuple[str, ...] = tuple(_read("en"))  # the English catalogue names every message


def _underscored(locale: str) -> str:
    return locale.replace("-", "_")


@functools.cache
def catalogue_for(locale: str) -> dict[str, str]:
    """The shipped messages for a BCP-47 locale: its own catalogue (`pt_BR`) over its language's (`pt`)."""
    language = locale.split("-")[0].lower()
    return {**_read(language), **_read(_underscored(locale))} if language else {}


def missing_messages(locale: str, overrides: Mapping[str, Any]) -> list[str]:
    """The message ids neither the shipped catalogues nor the form's x-phrases give for `locale`."""
    shipped = catalogue_for(locale)
    return [m for m in MESSAGE_IDS if m not in shipped and not isinstance(overrides.get(m), str)]


def placeholders(text: str) -> set[str]:
    """The named placeholders of a message (`{reason}`); a malformed brace raises ValueError."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@functools.cache
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(_underscored(locale))
    except (UnknownLocaleError, ValueError):
        try:
            return Locale.parse(locale.split("-")[0].lower())
        except (UnknownLocaleError, ValueError):
            return Locale.parse("en_US")


def language_name(locale: str) -> str:
    """The locale's language named in itself: español, français, English."""
    return str(_babel_locale(locale).language_name or locale)


@dataclass(frozen=True)
class Phrases:
    """What survey-bot says in one locale: the form's x-phrases for it over the shipped catalogue (English
    where neither has a message: only an unchecked form gets there)."""

    locale: str = "en-US"
    overrides: Mapping[str, str] = field(default_factory=dict)

    def text(self, message_id: str, **values: Any) -> str:
        """The message `message_id` in this locale, its placeholders filled."""
        template = self.overrides.get(message_id) or catalogue_for(self.locale).get(message_id) \
            or _read("en").get(message_id)
        if template is None:
            raise KeyError(message_id)
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return _read("en")[message_id].format(**values)  # an override naming a placeholder it lacks

    def number(self, value: float) -> str:
        """A number as the locale writes it (3.5 is "3,5" in Spanish)."""
        return str(format_decimal(value, locale=_babel_locale(self.locale), group_separator=False))

    def date(self, iso: str) -> str:
        """A date (YYYY-MM-DD) as the locale says it: March 15, 2024; 15 de marzo de 2024."""
        return str(format_date(dt.date.fromisoformat(iso), format="long", locale=_babel_locale(self.locale)))

    def time(self, iso: str) -> str:
        """A local time (HH:MM[:SS]) as the locale says it: 2:30 PM; 14:30."""
        return str(format_time(dt.time.fromisoformat(iso[:5]), format="short", locale=_babel_locale(self.locale)))

    def listed(self, items: list[str]) -> str:
        """Items as a list in the locale's words: a, b and c; a, b y c."""
        return str(format_list(items, locale=_babel_locale(self.locale)))

    def key(self, key: str) -> str:
        """How a key is said: `*` is star, `#` is pound (in the locale), digits as they are."""
        return {"*": self.text("key.star"), "#": self.text("key.pound")}.get(key, key)
