"""What survey-bot says on the keypad path: questions from a field's schema, key instructions, fixed phrases.

Kept apart from the keypad mapping so that every spoken word lives in one module (one place to translate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from survey_bot.forms.keypad import Keypad, fmt_number, high_bound, low_bound, types_of

__all__ = ["INVALID_PAYLOAD", "greeting", "humanize", "instructions", "prompt_of", "retry_payload", "span",
           "speak_payload"]

INVALID_PAYLOAD = "Sorry, that is not a valid answer."


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


def speak_payload(keypad: Keypad, schema: Mapping[str, Any], prompt: str, intro: str | None) -> str:
    """Return what gather_using_speak says for one field."""
    return " ".join(part for part in (intro, prompt, instructions(keypad, schema)) if part)


def _spoken(value: Any) -> str:
    return str(value).replace("_", " ").replace("-", " ")


def span(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low} to {high}"


def instructions(keypad: Keypad, schema: Mapping[str, Any]) -> str:
    """Tell the caller which keys to press."""
    if keypad.kind == "boolean":
        yes_no = {d: "yes" if v else "no" for d, v in keypad.choices.items()}
        return " ".join(f"Press {d} for {yes_no[d]}." for d in sorted(yes_no))
    if keypad.kind == "menu":
        return " ".join(f"Press {d} for {_spoken(keypad.choices[d])}." for d in sorted(keypad.choices))
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
    return f"Sorry, that was not accepted: {reason}. {question}"[:3000]
