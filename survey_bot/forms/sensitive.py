"""Sensitive fields (`x-sensitive`): which answers are stored encrypted, masked where people look and left out
of exports unless asked for; `"keypad"` also keeps the question away from the voice AI (only the keypad asks
it, so the answer never passes through a transcript). Pure: the encryption is storage.sealing's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["KEYPAD_ONLY", "MASK", "Sensitivity", "mask", "sensitivity"]

KEYPAD_ONLY = "keypad"
MASK = "••••"
Sensitivity = bool | Literal["keypad"]
_SHOWN_DIGITS, _MIN_DIGITS = 4, 8  # the last 4 of a digit string of 8 or more say which one, not what it is


def sensitivity(schema: Mapping[str, Any]) -> Sensitivity:
    """A field's x-sensitive: True, "keypad", else False (a checked form holds nothing else)."""
    value = schema.get("x-sensitive", False)
    if value is True:
        return True
    return "keypad" if value == KEYPAD_ONLY else False


def mask(value: Any) -> str:
    """A sensitive answer as people see it: `••••7890` for a digit string of 8 or more digits, else `••••`."""
    if isinstance(value, str) and len(value) >= _MIN_DIGITS and value.isascii() and value.isdigit():
        return MASK + value[-_SHOWN_DIGITS:]
    return MASK
