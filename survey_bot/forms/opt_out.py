"""The opt-out a form offers (x-opt-out, announced by its x-disclosure): which key, and the forms check's rule
that the key may not also answer a keypad question that listens for it (a menu, a yes/no, a read-back) nor
decline one."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from survey_bot.forms.keypad import leaf_keypad
from survey_bot.forms.schema_walk import Leaf

__all__ = ["DEFAULT_OPT_OUT_KEY", "READ_BACK_KEYS", "opt_out_key", "opt_out_problems"]

DEFAULT_OPT_OUT_KEY = "9"
READ_BACK_KEYS = "12"  # a read-back takes 1 (right) or 2 (enter it again)


def opt_out_key(document: Mapping[str, Any]) -> str | None:
    """The key that opts out (x-opt-out.key, default 9) when the form offers an opt-out: it has x-opt-out, or a
    disclosure (which announces it); None otherwise."""
    if "x-opt-out" not in document and "x-disclosure" not in document:
        return None
    settings = document.get("x-opt-out")
    key = settings.get("key", DEFAULT_OPT_OUT_KEY) if isinstance(settings, Mapping) else DEFAULT_OPT_OUT_KEY
    return str(key)


def opt_out_problems(document: Mapping[str, Any], fields: Sequence[Leaf], decline_key: str,
                     confirms: bool) -> Iterator[tuple[str, str]]:
    """The opt-out key where it would mean two things: a menu's digit, the decline key, a read-back's 1 or 2."""
    key = opt_out_key(document)
    if key is None:
        return
    at = "/x-opt-out/key" if isinstance(document.get("x-opt-out"), Mapping) and "key" in document["x-opt-out"] \
        else "/x-disclosure" if "x-disclosure" in document else "/x-opt-out"
    if key == decline_key:
        yield at, f"the opt-out key {key} is also the decline key (x-dtmf.decline_key): pick another x-opt-out.key"
    if confirms and key in READ_BACK_KEYS:
        yield at, f"the opt-out key {key} answers read-backs (1 right, 2 again): pick another x-opt-out.key"
    for leaf in fields:
        keypad = leaf_keypad(leaf)[0]
        if keypad is not None and key in keypad.choices:
            yield at, f"the opt-out key {key} is a menu digit of {'.'.join(leaf.path)!r}: pick another x-opt-out.key"
