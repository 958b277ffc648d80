"""What survey-bot says on the keypad path and in the AI's openings: questions from a field's schema, key
instructions, read-backs, refusals. The words come from the message catalogues (forms.catalogue) in the call's
locale; this module picks the message and fills it, so every spoken word survey-bot generates has one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survey_bot.forms.catalogue import Phrases
from survey_bot.forms.keypad import Keypad, high_bound, low_bound, types_of
from survey_bot.forms.labels import labels_of, said, spoken
from survey_bot.forms.localised import pick

__all__ = ["CANNOT_DECLINE", "decline_hint", "greeting", "humanize", "instructions", "prompt_of", "read_back",
           "reask_greeting", "reason", "refusal", "retry_payload", "span", "speak_payload"]

CANNOT_DECLINE = "this question needs an answer"  # kept in the keypad attempts (spoken: reason.cannot_decline)


def humanize(path: tuple[str, ...]) -> str:
    """Turn `preferred_slot.date` into `Preferred slot date`."""
    text = " ".join(path).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def prompt_of(schema: Mapping[str, Any], path: tuple[str, ...], locale: str = "", default: str = "") -> str:
    """Return the keypad question in `locale`: x-prompt, else the description, title (x-description, x-title
    for the locale) or name as a sentence."""
    prompt = pick(schema.get("x-prompt"), locale, default)
    if prompt is not None:
        return prompt
    texts = [pick(schema.get(f"x-{k}"), locale, default) or schema.get(k) for k in ("description", "title")]
    found = [t for t in texts if isinstance(t, str) and t]
    text = str(found[0]) if found else humanize(path)
    return text if text.rstrip().endswith((".", "?", "!", ":")) else f"{text}."


def speak_payload(keypad: Keypad, schema: Mapping[str, Any], prompt: str, intro: str | None, say: Phrases) -> str:
    """Return what gather_using_speak says for one field (menus in the locale of `say`)."""
    return " ".join(part for part in (intro, prompt, instructions(keypad, schema, say)) if part)


def span(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low} to {high}"


def instructions(keypad: Keypad, schema: Mapping[str, Any], say: Phrases) -> str:
    """Tell the caller which keys to press (a menu says each choice's label in the locale)."""
    if keypad.kind == "boolean":
        words = {True: say.text("keypad.yes"), False: say.text("keypad.no")}
        return " ".join(say.text("keypad.press", digit=d, choice=words[bool(keypad.choices[d])])
                        for d in sorted(keypad.choices))
    if keypad.kind == "menu":
        labels = labels_of(schema, say.locale)
        return " ".join(say.text("keypad.press", digit=d, choice=said(keypad.choices[d], labels))
                        for d in sorted(keypad.choices))
    if keypad.kind == "date":
        return say.text("keypad.date", example=say.date("2024-03-15"))
    if keypad.kind == "time":
        return say.text("keypad.time", example=say.time("14:30"))
    key = {"key": say.key(keypad.terminator)} if keypad.terminator else {}
    ending = "" if keypad.terminator else "_no_key"
    types = types_of(schema)
    if types & {"integer", "number"}:
        low, high = low_bound(schema), high_bound(schema)
        if low is not None and high is not None:
            text = say.text(f"keypad.number_range{ending}", low=say.number(low), high=say.number(high), **key)
        else:
            text = say.text(f"keypad.number{ending}", **key)
        return f"{text} {say.text('keypad.decimal')}" if types == {"number"} else text
    if keypad.min_digits == keypad.max_digits:
        return say.text(f"keypad.digits{ending}", count=keypad.min_digits, **key)
    return say.text(f"keypad.digits_range{ending}", low=keypad.min_digits, high=keypad.max_digits, **key)


def greeting(title: str, say: Phrases) -> str:
    """The voice AI's default opening words for a form titled `title`."""
    return say.text("ai.greeting", title=title)


def retry_payload(reason: str, question: str, say: Phrases) -> str:
    """A keypad question asked again after an answer that did not fit (at most Telnyx's 3,000 characters);
    `reason` is already in the locale."""
    return f"{refusal(reason, say)} {question}"[:3000]


def reason(said: tuple[str, Mapping[str, Any]], say: Phrases) -> str:
    """Why an entry was refused, in the locale: a reason.* message with its numbers said the locale's way."""
    message_id, values = said
    return say.text(message_id, **{k: say.number(v) if isinstance(v, int | float) and not isinstance(v, bool)
                                   else v for k, v in values.items()})


def refusal(reason: str, say: Phrases) -> str:
    """Why an entry was not accepted, said before the question is asked again (spoken or recorded)."""
    return say.text("keypad.refused", reason=reason)


def decline_hint(key: str, say: Phrases) -> str:
    """Said once in the keypad intro: how to skip an optional question."""
    return say.text("keypad.decline_hint", key=say.key(key))


def reask_greeting(titles: list[str], say: Phrases) -> str:
    """The AI's opening words when it asks again for what it missed."""
    names = [f"{t[:1].lower()}{t[1:]}" for t in titles]
    if len(names) == 1:
        return say.text("ai.reask_one", field=names[0])
    return say.text("ai.reask_many", fields=say.listed(names))


def read_back(value: Any, keypad: Keypad, schema: Mapping[str, Any], say: Phrases) -> str:
    """Read keypad digits back in words (a menu choice by its label), asking for a 1 or a 2."""
    return say.text("keypad.read_back", value=_in_words(value, keypad, schema, say))


def _in_words(value: Any, keypad: Keypad, schema: Mapping[str, Any], say: Phrases) -> str:
    if keypad.kind == "date" and isinstance(value, str) and len(value) == 10:
        return say.date(value)
    if keypad.kind == "time" and isinstance(value, str):
        return say.time(value)
    if keypad.kind == "boolean":
        return say.text("keypad.yes") if value else say.text("keypad.no")
    if keypad.kind == "menu":
        return said(value, labels_of(schema, say.locale))
    if isinstance(value, str) and value.isdigit():
        return " ".join(value)  # a digit string is read digit by digit
    if isinstance(value, int | float) and not isinstance(value, bool):
        return say.number(value)
    return spoken(value)


OPT_OUT_PROPERTY = "opt_out"  # the flag the voice AI sets when the caller asks not to be called again


def opt_out_hint(key: str, say: Phrases) -> str:
    """How to opt out, said at the end of the disclosure."""
    return say.text("optout.hint", key=say.key(key))
