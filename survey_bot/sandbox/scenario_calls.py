"""One scripted call of a scenario file, checked against its form and turned into a simulator Scenario: the
shape shared by a file's `calls` and each attempt of a campaign contact (sandbox.scenario_campaign)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from survey_bot.flow.opening import Amd
from survey_bot.forms.answers import flatten
from survey_bot.forms.model import Form
from survey_bot.forms.schema_walk import escape
from survey_bot.simulator.scenario import (
    AIGather,
    AIHistory,
    AIPartial,
    Delivery,
    HangupAt,
    KeypadEntry,
    KeypadHangup,
    KeypadInvalid,
    KeypadTimeout,
    Scenario,
)

__all__ = ["DEFAULT_CALLEE", "DEFAULT_CALLER", "LANGUAGE_KEYS", "Expectation", "ScenarioCall", "call_problems",
           "expect_problems",
           "expectation_of", "scenario_call", "script_problems"]

DEFAULT_CALLER = "+15557770100"
DEFAULT_CALLEE = "+15557654321"
LANGUAGE_KEYS = "language"  # a call's keypad script for the form's language menu (x-language-menu)


@dataclass(frozen=True)
class Expectation:
    """What a call should leave behind; answers and sources by dotted field name, compared only where named."""

    status: str | None = None
    answers: Mapping[str, Any] | None = None
    sources: Mapping[str, str] | None = None
    asked_on_keypad: tuple[str, ...] | None = None
    declined: frozenset[str] | None = None
    locale: str | None = None  # the locale the response recorded
    outcome: str | None = None  # campaigns.outcomes' word for the dial
    suppressed: bool | None = None  # the number is on the suppression list afterwards


@dataclass(frozen=True)
class ScenarioCall:
    """One call of a scenario file, ready for the simulator."""

    name: str
    pointer: str
    outbound: bool
    scenario: Scenario
    expect: Expectation | None
    locale: str | None = None  # an outbound call's requested locale
    amd: Amd | None = None  # outbound: the dial's answering machine detection (and voicemail message)


def call_problems(call: Mapping[str, Any], at: str, form: Form) -> Iterator[tuple[str, str]]:
    """What in one call of `calls` does not fit its direction or its form (pointer under `at`, message)."""
    outbound = call.get("direction") == "outbound"
    if outbound and "from" in call:
        yield f"{at}/from", "outbound calls come from the server's SURVEY_BOT_FROM_NUMBER: leave out `from`"
    for key in ("callee", "amd", "voicemail"):
        if not outbound and key in call:
            yield f"{at}/{key}", f"`{key}` is about an outbound call: add \"direction\": \"outbound\""
    if not outbound and "to" not in call and not form.numbers:
        yield at, f"form {form.form_id!r} has no x-numbers: say which number is called with `to`"
    if "locale" in call and not outbound:
        yield f"{at}/locale", "an inbound call's locale comes from its number or the language menu: leave out " \
                              "`locale`, or add \"direction\": \"outbound\""
    elif "locale" in call and call["locale"] not in form.locales:
        yield f"{at}/locale", f"{call['locale']!r} is not one of the form's locales ({', '.join(form.locales)})"
    yield from script_problems(call, at, form)
    yield from expect_problems(call.get("expect", {}), f"{at}/expect", form)


def script_problems(call: Mapping[str, Any], at: str, form: Form) -> Iterator[tuple[str, str]]:
    """Keypad scripts and hang-ups that name what the form does not have."""
    names = {field.name for field in form.fields}
    keypad = {field.name for field in form.fields if field.keypad is not None}
    for name in call.get("keypad", {}):
        if name == LANGUAGE_KEYS and form.language_menu:
            continue  # the keys pressed at the language menu
        if name not in keypad:
            why = "is not a field of the form" if name not in names else "has no keypad mapping"
            yield f"{at}/keypad/{escape(name)}", f"{name!r} {why}"
    hangup = call.get("hangup")
    if isinstance(hangup, dict) and hangup["keypad_field"] not in keypad:
        yield f"{at}/hangup/keypad_field", f"{hangup['keypad_field']!r} is not a keypad field of the form"


def expect_problems(expect: Mapping[str, Any], at: str, form: Form) -> Iterator[tuple[str, str]]:
    """Expected answers, sources and field lists that name fields the form does not have."""
    names = {field.name for field in form.fields}
    keypad = {field.name for field in form.fields if field.keypad is not None}
    for key in ("answers", "sources"):
        for name in _unknown(expect.get(key, {}), names):
            yield f"{at}/{key}/{escape(name)}", f"{name!r} is not a field of the form"
    for j, name in enumerate(expect.get("asked_on_keypad", [])):
        if name not in keypad:
            yield f"{at}/asked_on_keypad/{j}", f"{name!r} is not a keypad field of the form"
    for j, name in enumerate(expect.get("declined", [])):
        if name not in names:
            yield f"{at}/declined/{j}", f"{name!r} is not a field of the form"


def _unknown(values: Mapping[str, Any], names: set[str]) -> list[str]:
    prefixes = {name.split(".")[0] for name in names}
    return [key for key in values if key not in names and not (key in prefixes and isinstance(values[key], dict))]


def _flat(values: Mapping[str, Any], form: Form) -> dict[str, Any]:
    """Expected values by dotted field name, whether the file nested them as the form does or not."""
    names = {field.name for field in form.fields}
    flat = {key: value for key, value in values.items() if key in names}
    flat.update(flatten(form, {key: value for key, value in values.items() if key not in names}))
    return flat


def expectation_of(expect: Mapping[str, Any], form: Form) -> Expectation:
    """A checked `expect` object as an Expectation (the keys it does not name stay None: not compared)."""
    return Expectation(
        status=expect.get("status"),
        answers=_flat(expect["answers"], form) if "answers" in expect else None,
        sources=_flat(expect["sources"], form) if "sources" in expect else None,
        asked_on_keypad=tuple(expect["asked_on_keypad"]) if "asked_on_keypad" in expect else None,
        declined=frozenset(expect["declined"]) if "declined" in expect else None,
        locale=expect.get("locale"), outcome=expect.get("outcome"), suppressed=expect.get("suppressed"))


def scenario_call(call: Mapping[str, Any], pointer: str, form: Form) -> ScenarioCall:
    """A checked call as the simulator plays it."""
    outbound = call.get("direction") == "outbound"
    scenario = Scenario(
        direction="outgoing" if outbound else "incoming",
        from_number=call.get("from", DEFAULT_CALLER),
        to_number=call.get("to") or (DEFAULT_CALLEE if outbound else form.numbers[0]),
        ai_gathers=_gathers(call.get("ai", [])),
        keypad={name: [_entry(text) for text in entries] for name, entries in call.get("keypad", {}).items()},
        hangup=_hangup(call.get("hangup")),
        callee=call.get("callee", "human") if outbound else None,
        delivery=_delivery(call.get("delivery", {})),
        disclosure_keys=call.get("disclosure_keys"),
    )
    expect = call.get("expect")
    expectation = None if expect is None else expectation_of(expect, form)
    amd = Amd(voicemail=call.get("voicemail")) if outbound and (call.get("amd") or call.get("voicemail")) else None
    return ScenarioCall(call["name"], pointer, outbound, scenario, expectation, call.get("locale"), amd)
def _gathers(steps: list[Mapping[str, Any]]) -> list[AIGather]:
    """The AI steps cut at each `end`: one gather each (steps after the last `end` end invalid)."""
    gathers: list[AIGather] = []
    heard: list[AIPartial | AIHistory] = []
    for step in steps:
        if "partial" in step:
            heard.append(AIPartial(dict(step["partial"])))
        elif "history" in step:
            heard.append(AIHistory(tuple(dict(turn) for turn in step["history"])))
        else:
            gathers.append(AIGather(tuple(heard), step["end"], step.get("result")))
            heard = []
    if heard:
        gathers.append(AIGather(tuple(heard), "invalid", None))
    return gathers


def _entry(text: str) -> KeypadEntry:
    special: dict[str, KeypadEntry] = {"timeout": KeypadTimeout(), "invalid": KeypadInvalid(), "hangup": KeypadHangup()}
    return special.get(text, text)


def _hangup(value: Any) -> HangupAt:
    if isinstance(value, dict):
        return ("keypad_field", str(value["keypad_field"]))
    return value if value in ("during_ai", "before_keypad", "during_disclosure") else None


def _delivery(value: Mapping[str, Any]) -> Delivery:
    return Delivery(duplicate_every=bool(value.get("duplicate")), reorder_window=4 if value.get("shuffle") else 0,
                    delay_s=int(value.get("delay_ms", 0)) / 1000, seed=7, drop=frozenset(value.get("drop", ())))
