"""What survey-bot says on the keypad path: questions from a field's schema, key instructions, fixed phrases.

Kept apart from the keypad mapping so that every spoken word lives in one module (one place to translate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survey_bot.forms.keypad import Keypad, fmt_number, high_bound, low_bound, types_of
from survey_bot.forms.labels import labels_of, said, spoken

__all__ = ["CANNOT_DECLINE", "INVALID_PAYLOAD", "decline_hint", "greeting", "humanize", "instructions", "key_name",
           "prompt_of", "read_back", "reask_greeting", "refusal", "retry_payload", "span", "speak_payload"]

INVALID_PAYLOAD = "Sorry, that is not a valid answer."
CANNOT_DECLINE = "this question needs an answer"
_KEY_NAMES = {"*": "star", "#": "pound"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def humanize(path: tuple[str, ...]) -> str:
    """Turn `preferred_slot.date` into `Preferred slot date`."""
    text = " ".join(path).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


def prompt_of(schema: Mapping[str, Any], path: tuple[str, ...]) -> str:
    """Return the keypad question: x-prompt, else the description, title or name as a sentence."""
    if isinstance(schema.get("x-prompt"), str):
        return str(schema["x-prompt"])
    texts = [schema[k] for k in ("description", "title") if isinstance(schema.get(k), str)]
    text = str(texts[0]) if texts else humanize(path)
    return text if text.rstrip().endswith((".", "?", "!", ":")) else f"{text}."


def speak_payload(keypad: Keypad, schema: Mapping[str, Any], prompt: str, intro: str | None, locale: str) -> str:
    """Return what gather_using_speak says for one field (menus in the keypad's `locale`)."""
    return " ".join(part for part in (intro, prompt, instructions(keypad, schema, locale)) if part)


def span(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low} to {high}"


def instructions(keypad: Keypad, schema: Mapping[str, Any], locale: str) -> str:
    """Tell the caller which keys to press (a menu says each choice's label in `locale`)."""
    if keypad.kind == "boolean":
        yes_no = {d: "yes" if v else "no" for d, v in keypad.choices.items()}
        return " ".join(f"Press {d} for {yes_no[d]}." for d in sorted(yes_no))
    if keypad.kind == "menu":
        labels = labels_of(schema, locale)
        return " ".join(f"Press {d} for {said(keypad.choices[d], labels)}." for d in sorted(keypad.choices))
    if keypad.kind == "date":
        return "Enter the date as 8 digits, year, month, day: for example 2 0 2 4 0 3 1 5 for March 15, 2024."
    if keypad.kind == "time":
        return "Enter the time as 4 digits, 24-hour clock: for example 1 4 3 0 for 2:30 in the afternoon."
    end = {"#": ", then press pound.", "*": ", then press star.", "": "."}[keypad.terminator]
    types = types_of(schema)
    if types & {"integer", "number"}:
        low, high = low_bound(schema), high_bound(schema)
        limits = f" from {fmt_number(low)} to {fmt_number(high)}" if low is not None and high is not None else ""
        text = "Enter a number" + limits
        return text + (", using star as the decimal point" if types == {"number"} else "") + end
    return f"Enter {span(keypad.min_digits, keypad.max_digits)} digits{end}"



def greeting(title: str) -> str:
    """The voice AI's default opening words for a form titled `title`."""
    return f"Hello! I have a few quick questions for you: {title}."


def retry_payload(reason: str, question: str) -> str:
    """A keypad question asked again after an answer that did not fit (at most Telnyx's 3,000 characters)."""
    return f"{refusal(reason)} {question}"[:3000]


def refusal(reason: str) -> str:
    """Why an entry was not accepted, said before the question is asked again (spoken or recorded)."""
    return f"Sorry, that was not accepted: {reason}."


def key_name(key: str) -> str:
    """How a key is said: `*` is star, `#` is pound."""
    return _KEY_NAMES.get(key, key)


def decline_hint(key: str) -> str:
    """Said once in the keypad intro: how to skip an optional question."""
    return f"To skip a question you would rather not answer, press {key_name(key)}."


def reask_greeting(titles: list[str]) -> str:
    """The AI's opening words when it asks again for what it missed."""
    names = [f"your {t[:1].lower()}{t[1:]}" for t in titles]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"Sorry, I didn't catch {listed}. Could you say {'it' if len(names) == 1 else 'them'} again?"


def read_back(value: Any, keypad: Keypad, schema: Mapping[str, Any], locale: str) -> str:
    """Read keypad digits back in words (a menu choice by its label), asking for a 1 or a 2."""
    return f"You entered {_in_words(value, keypad, schema, locale)}. Press 1 if that is right, 2 to enter it again."


def _in_words(value: Any, keypad: Keypad, schema: Mapping[str, Any], locale: str) -> str:
    if keypad.kind == "date" and isinstance(value, str) and len(value) == 10:
        year, month, day = value.split("-")
        return f"{_MONTHS[int(month) - 1]} {int(day)}, {year}"
    if keypad.kind == "time" and isinstance(value, str):
        return value[:5]
    if keypad.kind == "boolean":
        return "yes" if value else "no"
    if keypad.kind == "menu":
        return said(value, labels_of(schema, locale))
    if isinstance(value, str) and value.isdigit():
        return " ".join(value)  # a digit string is read digit by digit
    return spoken(value)


OPT_OUT_GOODBYE = "We will not call you again. Thank you, goodbye."
OPT_OUT_PROPERTY = "opt_out"  # the flag the voice AI sets when the caller asks not to be called again


def opt_out_hint(key: str) -> str:
    """How to opt out, said at the end of the disclosure."""
    return f"If you do not want us to call you again, press {key_name(key)} at any time, or just tell us."

