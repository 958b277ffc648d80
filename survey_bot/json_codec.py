"""JSON decoding for the hot path: orjson where it gives the same answer as the standard library, else json.

Why: decoding webhook bodies and the responses' JSON columns was about a twelfth of the intake's CPU with
`json` (bench/ingest.py); orjson decodes several times faster. It is stricter, so whatever it refuses or would
change goes to `json` instead: integers beyond 64 bits (orjson would turn them into floats), and text `json`
accepts but orjson does not (lone surrogates, NaN, Infinity). Results are exactly what `json` alone gives.
Encoding stays with `json`: orjson writes NaN as null, which would change a value.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["loads"]

# A run of 19+ digits may not fit in 64 bits: such text is decoded by `json`, which keeps integers exact.
_LONG_NUMBER = re.compile(r"\d{19}")


def loads(text: str | bytes) -> Any:
    """json.loads, faster; raises json.JSONDecodeError (a ValueError) on malformed text, as json does."""
    if isinstance(text, str) and _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # let json decide: it accepts some of what orjson refuses, and words its own errors
    return json.loads(text)
