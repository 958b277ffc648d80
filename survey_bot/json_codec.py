"""JSON for the hot path: orjson where it gives the same values as the standard library, else json.

Why: decoding webhook bodies and decoding and encoding the responses' JSON columns was about a sixth of the
intake's CPU with `json` (bench/ingest.py); orjson does it several times faster. Where it would differ, json
does the work instead, so values are exactly json's:
- decoding: integers beyond 64 bits (orjson would turn them into floats) and text json accepts but orjson
  refuses (lone surrogates, NaN, Infinity);
- encoding: what orjson refuses (integers beyond 64 bits, non-string keys, and, by the options below,
  datetimes, dataclasses and subclasses, which json would refuse or write its own way), and any output
  holding `null`, since orjson writes NaN and infinities as null. The text differs (compact, UTF-8 rather
  than escapes); decoded, it is the same value.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

# A run of 19+ digits may not fit in 64 bits (orjson would turn such an integer into a float): text holding one
# is decoded by `json`, which keeps integers exact. Telnyx's 19-digit connection_id (a string) sends every
# webhook that way; telling a string's digits from a number's costs more than json's parse (measured: one
# regex doing both scanned the whole body at ~10 ns a character, 3 to 8 times a plain search that stops at the
# first run), so the plain search stays.
_LONG_NUMBER = re.compile(r"\d{19}")


def loads(text: str | bytes) -> Any:
    """json.loads, faster; raises json.JSONDecodeError (a ValueError) on malformed text, as json does."""
    if isinstance(text, str) and _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # let json decide: it accepts some of what orjson refuses, and words its own errors
    return json.loads(text)


_AS_JSON_WOULD = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def dumps(value: Any) -> str:
    """JSON text for `value` that json.loads reads back as json.dumps's would be read."""
    try:
        text = orjson.dumps(value, option=_AS_JSON_WOULD)
    except TypeError:
        return json.dumps(value)  # json's answer, or json's error
    if b"null" in text:  # perhaps a NaN or an infinity orjson wrote as null
        return json.dumps(value)
    return text.decode()
