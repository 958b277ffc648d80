"""What Telnyx accepts in a form's voice and keypad settings, read off the SDK's own literal types.

forms.check calls `speech_problems` as its provider check: languages and voices must be values the SDK's
`gather_using_ai` and `gather_using_speak` parameters allow (they differ: `en` versus `en-US`, and the
`male`/`female` voices exist only with `service_level: basic`).
"""

from __future__ import annotations

import functools
from typing import Any, get_args, get_type_hints

from survey_bot.forms.localised import ai_language

__all__ = ["sdk_languages", "speech_problems", "transcription_models"]

GENDER_VOICES = frozenset({"male", "female"})


@functools.cache
def sdk_languages() -> tuple[frozenset[str], frozenset[str]]:
    """Return the language literals the Telnyx SDK accepts for gather_using_ai and gather_using_speak."""
    from telnyx.types.calls.action_gather_using_ai_params import ActionGatherUsingAIParams
    from telnyx.types.calls.action_gather_using_speak_params import ActionGatherUsingSpeakParams

    ai = get_type_hints(ActionGatherUsingAIParams)["language"]
    speak = get_type_hints(ActionGatherUsingSpeakParams)["language"]
    return frozenset(get_args(ai)), frozenset(get_args(speak))


def speech_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(JSON pointer, message) for each language or voice in the form that Telnyx would refuse."""
    found = []
    ai_languages, speak_languages = sdk_languages()
    voice: dict[str, Any] = document["x-voice"] if isinstance(document.get("x-voice"), dict) else {}
    dtmf: dict[str, Any] = document["x-dtmf"] if isinstance(document.get("x-dtmf"), dict) else {}
    # (a value of the wrong type is the vocabulary's to report: only strings are looked up here)
    ai_language, speak_language = voice.get("language"), dtmf.get("language")
    if isinstance(ai_language, str) and ai_language not in ai_languages:
        found.append(("/x-voice/language", f"{ai_language!r} is not a gather_using_ai language (en, es, ...)"))
    if isinstance(voice.get("voice"), str) and voice["voice"] in GENDER_VOICES:
        found.append(("/x-voice/voice", f"{voice['voice']!r} needs service_level basic; gather_using_ai has none"))
    if isinstance(speak_language, str) and speak_language not in speak_languages:
        found.append(("/x-dtmf/language", f"{speak_language!r} is not a gather_using_speak language (en-US, ...)"))
    found += _locale_problems(document, voice, dtmf, ai_languages, speak_languages)
    basic = dtmf.get("service_level") == "basic"
    if isinstance(dtmf.get("voice"), str) and dtmf["voice"] in GENDER_VOICES and not basic:
        found.append(("/x-dtmf/voice", f"voice {dtmf['voice']!r} is only allowed with service_level basic"))
    if basic and speak_language not in (None, "en-US"):
        found.append(("/x-dtmf/language", "service_level basic only speaks en-US"))
    return found


@functools.cache
def transcription_models() -> frozenset[str]:
    """The speech-to-text models the SDK's gather_using_ai transcription takes."""
    from telnyx.types.calls.transcription_config_param import TranscriptionConfigParam

    return frozenset(get_args(get_type_hints(TranscriptionConfigParam)["model"]))


def _locale_problems(document: dict[str, Any], voice: dict[str, Any], dtmf: dict[str, Any],
                     ai_languages: frozenset[str], speak_languages: frozenset[str]) -> list[tuple[str, str]]:
    """Each locale of x-locales must be a keypad language and its language one the voice AI takes; per-locale
    voices follow the voice rules; transcription models are the SDK's."""
    found = []
    locales = document.get("x-locales")
    for i, locale in enumerate(locales if isinstance(locales, list) else []):
        if not isinstance(locale, str):
            continue
        if locale not in speak_languages:
            found.append((f"/x-locales/{i}", f"{locale!r} is not a gather_using_speak language (en-US, es-US, ...)"))
        if ai_language(locale) not in ai_languages:
            found.append((f"/x-locales/{i}", f"{ai_language(locale)!r} ({locale}) is not a gather_using_ai language"))
    for where, value in _per_locale(voice.get("voice"), "/x-voice/voice"):
        if value in GENDER_VOICES:
            found.append((where, f"{value!r} needs service_level basic; gather_using_ai has none"))
    if dtmf.get("service_level") != "basic":
        found += [(where, f"voice {value!r} is only allowed with service_level basic")
                  for where, value in _per_locale(dtmf.get("voice"), "/x-dtmf/voice") if value in GENDER_VOICES]
    declared = voice.get("transcription")
    settings = [("/x-voice/transcription", declared)] if isinstance(declared, dict) and "model" in declared else \
        [(f"/x-voice/transcription/{k}", v) for k, v in declared.items()] if isinstance(declared, dict) else []
    for where, setting in settings:
        model = setting.get("model") if isinstance(setting, dict) else None
        if isinstance(model, str) and model not in transcription_models():
            found.append((f"{where}/model", f"{model!r} is not a transcription model Telnyx knows "
                                             "(deepgram/flux, deepgram/nova-3, ...)"))
    return found


def _per_locale(value: Any, pointer: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(f"{pointer}/{key}", entry) for key, entry in value.items() if isinstance(entry, str)]
    return []
