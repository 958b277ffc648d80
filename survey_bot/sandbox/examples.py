"""Example callers for any form: a valid sample answer for each field, and the starting scenario file that
`survey-bot simulate --example FORM_ID` prints (the AI gets everything; the keypad rescues one answer; a caller
hangs up during the AI)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from survey_bot.errors import DigitsError
from survey_bot.forms.answers import validate_field
from survey_bot.forms.digits import parse_digits
from survey_bot.forms.model import Field, Form
from survey_bot.forms.validation import nest
from survey_bot.web.live import show_value

__all__ = ["Sample", "example_document", "question", "samples"]

Sample = tuple[Any, str | None]  # a valid value, and the keypad digits that give it (None: no keypad)
UNLISTED_NUMBER = "+15550109999"  # called when the form lists no number (the simulator makes it the default form)


def _digit_candidates(field: Field) -> list[str]:
    keypad = field.keypad
    if keypad is None:
        return []
    if keypad.kind in ("menu", "boolean"):
        return sorted(keypad.choices)
    if keypad.kind == "date":
        return ["20270115", "20260115", datetime.now(UTC).strftime("%Y%m%d")]
    if keypad.kind == "time":
        return ["0930", "1400"]
    return [d * n + keypad.terminator for n in range(keypad.min_digits, keypad.max_digits + 1) for d in "7315"]


def _value_candidates(schema: Mapping[str, Any]) -> list[Any]:
    items = schema.get("items")
    item_enum = items.get("enum") if isinstance(items, Mapping) else None
    return [*schema.get("examples", []), *schema.get("enum", [])[:1], "Sam Sample from the simulator",
            [*(item_enum or ["sample"])][:1], True, 1]


def sample(field: Field) -> Sample | None:
    """A valid answer for `field`, with the keypad digits that give it when it has a keypad (None: none found)."""
    for digits in _digit_candidates(field):
        try:
            return parse_digits(field, digits), digits
        except (DigitsError, ValueError):
            continue
    return next(((v, None) for v in _value_candidates(field.schema) if validate_field(field, v) is None), None)


def samples(form: Form) -> dict[str, Sample]:
    """A sample answer for every field that has one, in form order."""
    return {f.name: s for f in form.fields if (s := sample(f)) is not None}


def question(field: Field) -> str:
    """What the voice AI might ask for `field`."""
    return field.prompt if field.prompt.endswith("?") else f"And your {field.title.lower()}?"


def rescued_field(form: Form, found: Mapping[str, Sample]) -> str | None:
    """The field the example caller types instead of saying: the last required one the keypad can take."""
    keyed = [f.name for f in form.fields if f.name in found and found[f.name][1] is not None]
    return next((n for n in reversed(keyed) if form.field(n).required), keyed[-1] if keyed else None)


def _ai_steps(form: Form, found: Mapping[str, Sample], skip: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    heard: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []
    for f in form.fields:
        if f.name in found and f.name != skip:
            heard[f.name] = found[f.name][0]
            steps.append({"history": [{"role": "assistant", "content": question(f)},
                                      {"role": "user", "content": show_value(found[f.name][0])}]})
            steps.append({"partial": nest(heard)})
    if skip is not None:
        steps.append({"history": [{"role": "assistant", "content": question(form.field(skip))},
                                  {"role": "user", "content": "Can I type that on the keypad instead?"}]})
    return steps, nest(heard)


def example_document(form: Form) -> dict[str, Any]:
    """A starting scenario file for `form` (without expectations: `simulate --example` records them)."""
    found = samples(form)
    to = form.numbers[0] if form.numbers else UNLISTED_NUMBER
    everything, result = _ai_steps(form, found, None)
    calls: list[dict[str, Any]] = [{"name": "the voice AI gets every answer", "to": to, "from": "+15557770101",
                                    "ai": [*everything, {"end": "valid", "result": result}]}]
    rescued = rescued_field(form, found)
    if rescued is not None:
        steps, result = _ai_steps(form, found, rescued)
        unheard = [f.name for f in form.fields if (f.keypad is not None and f.name not in found) or f.name == rescued]
        keypad = {name: [found[name][1] or "timeout"] if name in found else ["timeout"] for name in unheard}
        calls.append({"name": f"the keypad rescues {rescued}", "to": to, "from": "+15557770102",
                      "ai": [*steps, {"end": "valid", "result": result}], "keypad": keypad})
    first_steps = everything[:2]
    calls.append({"name": "the caller hangs up while talking to the AI", "to": to, "from": "+15557770103",
                  "ai": first_steps, "hangup": "during_ai"})
    return {"form": form.form_id, "calls": calls}
