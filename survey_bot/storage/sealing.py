"""Encryption at rest of sensitive answers (x-sensitive), at the storage boundary: the write path seals them as
it writes a response's row and opens them as it reads one back, so the pure flow keeps plain values in memory
and every reader goes through `open_answers` (or `shown_answers`, which masks or omits).

A sealed answer is a JSON string `fernet:<token>` in the answers object: the stored value itself says it is
sealed, whatever the form says today. The digits of a sensitive field's keypad attempts are sealed the same
way. The keys are SURVEY_BOT_DATA_KEY's (comma-separated Fernet keys, newest first): a MultiFernet seals with
the first and opens with any, so answers sealed before a rotation stay readable while the old key is kept after
the new one. The keys are installed once per process (runtime).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from survey_bot.errors import ConfigError
from survey_bot.forms.sensitive import MASK, mask

__all__ = ["PREFIX", "SealError", "generate_key", "install", "installed", "is_sealed", "masked_attempts",
           "open_answers", "open_arguments", "open_attempts", "open_readback", "seal_answers", "seal_arguments",
           "seal_attempts", "seal_readback", "sealed_arguments", "shown_answers"]

PREFIX = "fernet:"
Shown = Literal["mask", "omit", "reveal"]
_box: MultiFernet | None = None


class SealError(ConfigError):
    """A sensitive answer cannot be sealed or opened with the keys this process has."""


def generate_key() -> str:
    """A new random key for SURVEY_BOT_DATA_KEY."""
    return Fernet.generate_key().decode()


def install(keys: str) -> None:
    """Use these comma-separated keys (newest first) from now on in this process; an empty string removes them."""
    global _box
    names = [key.strip() for key in keys.split(",") if key.strip()]
    try:
        _box = MultiFernet([Fernet(key) for key in names]) if names else None
    except (ValueError, binascii.Error):
        raise ConfigError("SURVEY_BOT_DATA_KEY: not a comma-separated list of Fernet keys (make one with "
                          "`survey-bot keys generate`)") from None


def installed() -> bool:
    """Whether this process has keys to seal and open sensitive answers."""
    return _box is not None


def _keys() -> MultiFernet:
    if _box is None:
        raise SealError("SURVEY_BOT_DATA_KEY is not set: sensitive answers (x-sensitive) cannot be encrypted or "
                        "read (make a key with `survey-bot keys generate`)")
    return _box


def is_sealed(value: Any) -> bool:
    """Whether a stored answer is a sealed one."""
    return isinstance(value, str) and value.startswith(PREFIX)


def seal_answers(answers: Mapping[str, Any], names: Collection[str]) -> dict[str, Any]:
    """The answers as stored: those of the `names` fields sealed (None and already sealed values stay)."""
    if not any(answers.get(name) is not None for name in names):
        return dict(answers)
    return {name: _seal(value) if name in names and value is not None and not is_sealed(value) else value
            for name, value in answers.items()}


def _seal(value: Any) -> str:
    return PREFIX + _keys().encrypt(json.dumps(value).encode()).decode()


def seal_attempts(attempts: Any, names: Collection[str]) -> Any:
    """Keypad attempts as stored: the digits entered for a sensitive field sealed like its answer."""
    return _each_digits(attempts, lambda digits: digits if is_sealed(digits) else _seal(digits), names)


def open_attempts(attempts: Any) -> Any:
    """Keypad attempts with their sealed digits opened."""
    return _each_digits(attempts, lambda digits: _open(digits) if is_sealed(digits) else digits)


def masked_attempts(attempts: Any) -> Any:
    """Keypad attempts for people: sealed digits masked."""
    return _each_digits(attempts, lambda digits: _masked(digits) if is_sealed(digits) else digits)


def _each_digits(attempts: Any, change: Callable[[Any], Any], names: Collection[str] | None = None) -> Any:
    if not isinstance(attempts, list) or (names is not None and not names):
        return attempts
    return [{**entry, "digits": change(entry["digits"])}
            if isinstance(entry, dict) and isinstance(entry.get("digits"), str)
            and (names is None or entry.get("field") in names) else entry for entry in attempts]


def _open(value: Any) -> Any:
    try:
        return json.loads(_keys().decrypt(value[len(PREFIX):].encode()))
    except InvalidToken:
        raise SealError("a sensitive answer does not open with SURVEY_BOT_DATA_KEY: after a rotation keep the old "
                        "key after the new one (newest first) until nothing sealed with it is left") from None


def seal_readback(readback: Any, names: Collection[str]) -> Any:
    """A read-back awaiting its 1 or 2 as stored: the value of a sensitive field sealed."""
    if isinstance(readback, dict) and readback.get("field") in names and readback.get("value") is not None \
            and not is_sealed(readback["value"]):
        return {**readback, "value": _seal(readback["value"])}
    return readback


def open_readback(readback: Any) -> Any:
    """A stored read-back with its sealed value opened."""
    if isinstance(readback, dict) and is_sealed(readback.get("value")):
        return {**readback, "value": _open(readback["value"])}
    return readback


def seal_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A command's arguments as the outbox keeps them when they may hold a sensitive answer: one sealed value."""
    return {"sealed": _seal(dict(arguments))}


def sealed_arguments(arguments: Any) -> bool:
    """Whether outbox arguments are sealed (to open before sending, and to clear once sent)."""
    return isinstance(arguments, dict) and len(arguments) == 1 and is_sealed(arguments.get("sealed"))


def open_arguments(arguments: Any) -> Any:
    """Outbox arguments as the provider is sent them (sealed ones opened)."""
    return _open(arguments["sealed"]) if sealed_arguments(arguments) else arguments


def open_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers with every sealed one opened (the one decryption of stored answers)."""
    return {name: _open(value) if is_sealed(value) else value for name, value in answers.items()}


def shown_answers(answers: Mapping[str, Any], sensitive: Collection[str], how: Shown) -> dict[str, Any]:
    """Stored answers for people: sensitive ones (sealed, or of a `sensitive` field) masked (`••••7890`), omitted,
    or revealed (opened). Masking opens a value only to keep its last digits, and without keys shows `••••`."""
    if how == "reveal":
        return open_answers(answers)
    hidden = {name for name, value in answers.items()
              if value is not None and (name in sensitive or is_sealed(value))}
    if how == "omit":
        return {name: value for name, value in answers.items() if name not in hidden}
    return {name: (_masked(value) if name in hidden else value) for name, value in answers.items()}


def _masked(value: Any) -> str:
    if not is_sealed(value):
        return mask(value)
    return mask(_open(value)) if installed() else MASK
