"""Redaction of sensitive answers (x-sensitive) from what a call leaves in text: a transcript, a webhook body, a
command's arguments. The value and its spoken forms (digits run together or separated by spaces, dashes, commas
or dots; digit words in the call's language and in English; any case) become `[redacted:<field>]`. Pure: the
write path decides when (storage and intake use it)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

from survey_bot.forms.digit_words import digit_words

__all__ = ["Redactor", "blank_keys", "label", "redactor"]

_SEPARATOR = r"[\s,.\-]*"
_SPACES = re.compile(r"[\s\-+().]")
# The envelope's own keys (ids, times, kinds): never a caller's words, left as they are.
_STRUCTURAL = frozenset({"id", "event_type", "record_type", "occurred_at", "client_state", "call_control_id",
                         "call_leg_id", "call_session_id", "connection_id", "conversation_id"})


def label(field: str) -> str:
    """What a redacted value reads as."""
    return f"[redacted:{field}]"


def _pattern(value: Any, words: tuple[tuple[str, ...], ...]) -> str | None:
    """A regular expression for `value` and its spoken forms; None for what cannot be found in text."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        text = str(abs(value))
    elif isinstance(value, float | str):
        text = str(value).strip()
    else:
        return None
    digits = _SPACES.sub("", text)
    if digits and digits.isascii() and digits.isdigit():
        spelt = (f"(?:{'|'.join([d, *map(re.escape, words[int(d)])])})" for d in digits)
        body = _SEPARATOR.join(spelt)
    elif text:
        body = r"\s+".join(map(re.escape, text.split()))
    else:
        return None
    return rf"(?<!\w){body}(?!\w)"


class Redactor:
    """Replaces the known sensitive values of one call wherever they appear in text or JSON."""

    def __init__(self, values: Iterable[tuple[str, Any]], locale: str | None) -> None:
        words = digit_words(locale)
        self._patterns = [(re.compile(found, re.IGNORECASE), label(name)) for name, value in values
                          if (found := _pattern(value, words)) is not None]

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def text(self, text: str) -> str:
        """`text` with every known value replaced."""
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def json(self, value: Any) -> Any:
        """A JSON value with every known value replaced in its strings and numbers (the same object when there
        was nothing to replace); the envelope's ids and times are left alone."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            shown = str(value)
            return replaced if (replaced := self.text(shown)) != shown else value
        if isinstance(value, list):
            items = [self.json(item) for item in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        if isinstance(value, dict):
            pairs = {key: item if key in _STRUCTURAL else self.json(item) for key, item in value.items()}
            return value if all(pairs[key] is item for key, item in value.items()) else pairs
        return value

    def body(self, raw: str) -> str:
        """A stored webhook body (JSON text) with every known value replaced; unchanged text when none is in it."""
        if not raw or not self._patterns:
            return raw
        try:
            document = json.loads(raw)
        except ValueError:
            return self.text(raw)
        redacted = self.json(document)
        return raw if redacted is document else json.dumps(redacted, ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=1024)
def _cached(values: tuple[tuple[str, str], ...], locale: str | None) -> Redactor:
    return Redactor(((name, json.loads(value)) for name, value in values), locale)


def redactor(values: Iterable[tuple[str, Any]], locale: str | None) -> Redactor:
    """The redactor of these known values (field, value), built once per set of values."""
    key = tuple(sorted({(name, json.dumps(value, sort_keys=True)) for name, value in values}))
    return _cached(key, locale)


def blank_keys(raw: str, keys: frozenset[str], field: str) -> str:
    """A webhook body with the values under `keys` (a keypad event's digits) replaced whatever they are."""
    try:
        document = json.loads(raw)
    except ValueError:
        return raw
    changed = _blank(document, keys, label(field))
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) if changed else raw


def _blank(value: Any, keys: frozenset[str], replacement: str) -> bool:
    changed = False
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys and isinstance(item, str | int) and item not in ("", replacement):
                value[key] = replacement
                changed = True
            else:
                changed = _blank(item, keys, replacement) or changed
    elif isinstance(value, list):
        for item in value:
            changed = _blank(item, keys, replacement) or changed
    return changed
