"""survey_bot.json_codec gives exactly the values the standard library's json gives, only faster: the webhook
bodies and the responses' JSON columns go through it, and an answer must come back as it was heard."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from survey_bot import json_codec

TEXTS = [
    '{"a": 1, "b": [true, false, null], "c": {"d": "é 日本 🎉"}}',
    '{"big": 123456789012345678901234567890}',  # beyond 64 bits: must stay an exact int
    '{"neg": -9223372036854775809, "edge": 9223372036854775807}',
    '{"float": 0.1, "exp": 1e16, "tiny": 5e-324}',
    '{"lone": "\\ud800"}',  # a lone surrogate escape: json accepts it
    '{"nan": NaN, "inf": Infinity}',  # json accepts these words
    '"just a string"',
    '[1, 2, 3]',
]


@pytest.mark.parametrize("text", TEXTS)
def test_loads_equals_json(text: str) -> None:
    ours, theirs = json_codec.loads(text), json.loads(text)
    assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)
    assert repr(ours) == repr(theirs)  # same types too (an int stays an int)


@pytest.mark.parametrize("text", ['{"a": }', "", "{'a': 1}", '{"a": 1', "nul"])
def test_malformed_text_raises_jsons_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        json_codec.loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)


@pytest.mark.parametrize("value", [
    {"answers": {"nps": 9, "comment": "très bien 👍"}, "at": "2026-11-24T00:00:00+00:00"},
    {"big": 2**70, "neg": -(2**65)},
    {"lone": "\ud800"},
    [0.1, 1e16, 5e-324, -0.0, 1.7976931348623157e308],
    {"nested": [{"a": [1, {"b": None}]}], "text": "null and void"},
    {"nan": math.nan, "inf": math.inf, "minus_inf": -math.inf},
    {1: "an int key", "2": "a str key"},
])
def test_dumps_reads_back_as_jsons_text_does(value: object) -> None:
    ours, theirs = json.loads(json_codec.dumps(value)), json.loads(json.dumps(value))
    assert repr(ours) == repr(theirs)


@dataclass
class Point:
    x: int


class Label(str):
    pass


@pytest.mark.parametrize("value", [datetime(2026, 11, 24, tzinfo=UTC), Point(1), {"set": {1, 2}}])
def test_dumps_refuses_what_json_refuses(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        json_codec.dumps(value)


def test_dumps_writes_subclasses_as_json_does() -> None:
    assert json.loads(json_codec.dumps({"k": Label("v")})) == {"k": "v"}


# ---- loads_bounded: text from outside -------------------------------------------------------------------


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("text", "pointer", "problem"), [
    (deep(65), "/0" * 64, "nested deeper than 64 levels"),  # parsed, then found too deep
    (deep(100_000), "/0" * 64, "nested deeper than 64 levels"),  # json's RecursionError
    ('{"a": [1, {}, "k", {"b~/c": ' + deep(70) + "}]}", "/a/3/b~0~1c" + "/0" * 61, "nested deeper than 64 levels"),
    ('{"s": "[[[[", "n": [' + "1" * 4301 + "]}", "/n/0", "an integer of 4301 digits (Python reads at most 4300)"),
    ("-" + "9" * 5000, "", "an integer of 5000 digits (Python reads at most 4300)"),
])
def test_loads_bounded_refuses_deep_or_long_text_saying_where(text: str, pointer: str, problem: str) -> None:
    with pytest.raises(json_codec.JsonLimitError) as refused:
        json_codec.loads_bounded(text)
    assert (refused.value.pointer, refused.value.problem) == (pointer, problem)
    assert str(refused.value) == f"{problem} at {pointer or '/'}"


@pytest.mark.parametrize("text", [deep(64), '{"f": 1.' + "5" * 5000 + "}", '"' + "[" * 5000 + '"', *TEXTS])
def test_loads_bounded_reads_what_is_within_the_limits_as_loads_does(text: str) -> None:
    assert repr(json_codec.loads_bounded(text)) == repr(json_codec.loads(text))


def test_loads_bounded_leaves_malformed_text_to_jsons_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        json_codec.loads_bounded('{"a": [1, 2')
