"""survey_bot.json_codec.loads gives exactly what the standard library's json gives, only faster: the webhook
bodies and the responses' JSON columns are decoded by it, and an answer must come back as it was heard."""

from __future__ import annotations

import json

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
