"""Recorded prompts: a field's keypad question as a recording (`x-audio`) and recorded intro and closing words
(`x-dtmf.audio`). One place for the rules, so that `forms check`, the loaded Form and the Telnyx arguments agree
on which recording is played. Until forms have locales, the keypad's locale (`x-dtmf.language`) picks a
per-locale entry. The vocabulary checks the shapes; this module what a schema cannot say."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from survey_bot.forms.keypad import leaf_keypad
from survey_bot.forms.labels import is_locale
from survey_bot.forms.localised import locales_of
from survey_bot.forms.schema_walk import Leaf, escape

__all__ = ["Recording", "audio_problems", "field_recording", "form_recordings", "url_problem"]

# Hosts whose plain-http URLs are accepted: a simulator serving its own recordings on this machine.
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Recording:
    """A keypad question played from a file: `prompt`, and `invalid` when the keys do not fit (optional)."""

    prompt: str
    invalid: str | None = None


def _per_locale(audio: Mapping[str, Any]) -> bool:
    return "prompt" not in audio and "invalid" not in audio


def field_recording(schema: Mapping[str, Any], locale: str) -> Recording | None:
    """The recording asking a (checked) field on the keypad in `locale`, or None: the question is spoken."""
    audio = schema.get("x-audio")
    if not isinstance(audio, Mapping):
        return None
    chosen = audio.get(locale) if _per_locale(audio) else audio
    if not isinstance(chosen, Mapping) or not isinstance(chosen.get("prompt"), str):
        return None
    invalid = chosen.get("invalid")
    return Recording(chosen["prompt"], invalid if isinstance(invalid, str) else None)


def form_recordings(document: Mapping[str, Any]) -> dict[str, str]:
    """A (checked) form's recorded words by moment: {"intro": URL, "closing": URL}, either or none."""
    dtmf = document.get("x-dtmf")
    audio = dtmf.get("audio") if isinstance(dtmf, Mapping) else None
    if not isinstance(audio, Mapping):
        return {}
    return {moment: url for moment, url in audio.items() if moment in ("intro", "closing") and isinstance(url, str)}


def url_problem(url: Any) -> str | None:
    """Why a recording's URL cannot be played (None: it can): Telnyx fetches absolute https URLs; plain http
    only on this machine, for the simulator."""
    if not isinstance(url, str):
        return None  # the vocabulary reports the type
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"{url!r} is not a URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host in _LOCAL_HOSTS:
        return None
    return f"{url!r} is not an absolute https URL (plain http only on 127.0.0.1 or localhost)"


def audio_problems(document: Mapping[str, Any], fields: list[Leaf]) -> list[tuple[str, str]]:
    """What is wrong with the form's recordings beyond their shape: URLs, locales, fields with no keypad."""
    found = []
    for moment, url in form_recordings(document).items():
        problem = url_problem(url)
        found += [(f"/x-dtmf/audio/{moment}", problem)] if problem else []
    locales = locales_of(document)
    for leaf in fields:
        audio = leaf.schema.get("x-audio")
        if not isinstance(audio, Mapping):
            continue
        at = leaf.at("x-audio")
        if leaf_keypad(leaf)[0] is None:
            found.append((at, "x-audio records a keypad question, and this field has no keypad (x-dtmf)"))
        found += _recording_problems(audio, at, locales)
    return found


def _recording_problems(audio: Mapping[str, Any], at: str, locales: tuple[str, ...]) -> list[tuple[str, str]]:
    if not _per_locale(audio):
        return _urls(audio, at)
    found = []
    for key, entry in audio.items():
        if not is_locale(key):
            found.append((f"{at}/{escape(key)}", f"{key!r} is not a locale like es-US (per-locale recordings are "
                                                 "keyed by locale) nor prompt or invalid"))
        elif isinstance(entry, Mapping):
            found += _urls(entry, f"{at}/{escape(key)}")
    found += [(at, f"no recording for {locale}, " + ("a locale of x-locales" if len(locales) > 1 else
                                                      "the form's keypad locale (x-dtmf.language)"))
              for locale in locales if locale not in audio]
    return found


def _urls(recording: Mapping[str, Any], at: str) -> list[tuple[str, str]]:
    found = []
    for key in ("prompt", "invalid"):
        problem = url_problem(recording.get(key))
        found += [(f"{at}/{key}", problem)] if problem else []
    return found
