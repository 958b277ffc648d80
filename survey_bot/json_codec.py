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

Text from outside (webhook bodies, API bodies, client_state) goes through `loads_bounded`: JSON nested deeper
than MAX_DEPTH, or holding an integer longer than Python converts, is refused with JsonLimitError naming the place
(a JSON pointer), where the parsers would raise RecursionError (a 500) or an unlocated ValueError.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "JsonLimitError", "dumps", "loads", "loads_bounded"]

MAX_DEPTH = 64  # Telnyx's deepest payloads (a transcript, a nested form's partial result) are under 10

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


class JsonLimitError(ValueError):
    """Well-formed JSON that survey-bot will not read: nested too deep, or an integer too long for Python.

    `pointer` (RFC 6901; "" is the whole document) says where; `problem` says what.
    """

    def __init__(self, pointer: str, problem: str) -> None:
        self.pointer = pointer
        self.problem = problem
        super().__init__(f"{problem} at {pointer or '/'}")


def loads_bounded(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """loads for text from outside: JsonLimitError past `max_depth` containers or Python's integer digit limit;
    json.JSONDecodeError, as loads, for malformed text. Never RecursionError, however deep the text."""
    try:
        value = loads(text)
    except json.JSONDecodeError:  # malformed: json's own error, as from loads
        raise
    except (RecursionError, ValueError) as exc:  # too deep for the parser, or int() refused the digits
        raise _limit_error(text, max_depth, exc) from None
    if (text.count("{") + text.count("[") > max_depth and isinstance(value, dict | list)
            and _deeper_than(value, max_depth)):
        raise _limit_error(text, max_depth, None)
    return value


def _deeper_than(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether the container `value` (itself a level) nests containers more than `limit` levels deep; recursion
    stops at `limit`."""
    if limit <= 0:
        return True
    items = value.values() if isinstance(value, dict) else value
    return any(_deeper_than(item, limit - 1) for item in items if isinstance(item, dict | list))


_NUMBER_AT = re.compile(r"-?([0-9]+)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _limit_error(text: str, max_depth: int, cause: Exception | None) -> JsonLimitError:
    """The first place `text` passes a limit, found by a scan that keeps its own stack (so no depth breaks it).

    Why a scan of the text: the parsers say neither where they gave up nor, for a RecursionError, why.
    """
    open_: list[list[Any]] = []  # per open container: [is an array, its current index or key]
    expect_key = False
    digit_limit = sys.get_int_max_str_digits()
    at, end = 0, len(text)
    try:
        while at < end:
            char = text[at]
            if char == '"':
                key, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
                if expect_key:
                    open_[-1][1], expect_key = key, False
                continue
            if char in "-0123456789":
                number = _NUMBER_AT.match(text, at)
                if number is None:
                    break
                if digit_limit and not (number[2] or number[3]) and len(number[1]) > digit_limit:
                    return JsonLimitError(_pointer(open_), f"an integer of {len(number[1])} digits (Python reads "
                                                           f"at most {digit_limit})")
                at = number.end()
                continue
            if char in "[{":
                if len(open_) >= max_depth:
                    return JsonLimitError(_pointer(open_), f"nested deeper than {max_depth} levels")
                open_.append([char == "[", 0 if char == "[" else ""])
                expect_key = char == "{"
            elif char in "]}" and open_:
                open_.pop()
                expect_key = False
            elif char == "," and open_:
                if open_[-1][0]:
                    open_[-1][1] += 1
                else:
                    expect_key = True
            at += 1
    except (ValueError, IndexError):  # malformed further on than the parser looked: say what the parser said
        pass
    return JsonLimitError("", f"not readable: {cause}" if cause else f"nested deeper than {max_depth} levels")


def _pointer(open_: list[list[Any]]) -> str:
    """The JSON pointer of the value the open containers lead to."""
    return "".join("/" + str(segment).replace("~", "~0").replace("/", "~1") for _array, segment in open_)
