"""A checked form as the rest of survey-bot sees it: its fields (leaves named with dots), its voice and keypad
settings, and the catalog of loaded forms that says which form answers which number."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from survey_bot.forms.audio import Recording
from survey_bot.forms.catalogue import Phrases
from survey_bot.forms.conditions import Logic, Relevance
from survey_bot.forms.keypad import Keypad
from survey_bot.forms.labels import DEFAULT_LOCALE
from survey_bot.forms.phrases import decline_hint, opt_out_hint
from survey_bot.forms.placeholders import fill
from survey_bot.forms.sensitive import Sensitivity
from survey_bot.vocabulary import RESERVED_NAMES

__all__ = ["DECLINED_KEY", "DTMF_DEFAULTS", "REASK_DEFAULTS", "VOICE_DEFAULTS", "Field", "Form", "FormCatalog"]

# The property the voice AI fills with the optional questions the caller declined (a name no field may take).
DECLINED_KEY = "declined_questions"
assert DECLINED_KEY in RESERVED_NAMES
REASK_DEFAULTS: Mapping[str, Any] = {"max": 1, "fields": "no-keypad"}

VOICE_DEFAULTS: Mapping[str, Any] = {"voice": "Telnyx.KokoroTTS.af", "language": "en"}


# (the intro and closing words come from the locale's phrases: keypad.intro, keypad.closing)
DTMF_DEFAULTS: Mapping[str, Any] = {
    "voice": "Telnyx.KokoroTTS.af", "language": DEFAULT_LOCALE, "maximum_tries": 3, "timeout_millis": 10000,
    "decline_key": "*",
}


@dataclass(frozen=True)
class Field:
    """One question: a leaf of the form schema, named with dots (`preferred_slot.date`)."""

    name: str
    path: tuple[str, ...]
    schema: Mapping[str, Any]
    required: bool
    title: str
    prompt: str
    keypad: Keypad | None
    confirm: bool = False  # read keypad digits back for a 1 or a 2 (x-confirm)
    audio: Recording | None = None  # the keypad question played from a file (x-audio); None: spoken
    sensitive: Sensitivity = False  # x-sensitive: stored encrypted, masked, exported on request; "keypad": no AI


@dataclass(frozen=True)
class Form:
    """A checked form, ready to compile into a conversation."""

    form_id: str
    source: str
    document: Mapping[str, Any]
    version: str
    title: str
    fields: tuple[Field, ...]
    numbers: tuple[str, ...]
    voice: Mapping[str, Any]
    dtmf: Mapping[str, Any]
    logic: Logic  # its skip logic: which fields are relevant and required, given the answers so far
    reask: Mapping[str, Any] = field(default_factory=lambda: dict(REASK_DEFAULTS))  # x-reask
    retention_days: int | None = None  # x-retention-days: wins over SURVEY_BOT_RETENTION_DAYS; None: the setting
    audio: Mapping[str, str] = field(default_factory=dict)  # x-dtmf.audio: recorded intro and closing by moment
    locales: tuple[str, ...] = (DEFAULT_LOCALE,)  # x-locales (the default first), else the keypad's one locale
    locale: str = DEFAULT_LOCALE  # the locale this view of the form speaks (for_locale picks another)
    phrases: Phrases = field(default_factory=Phrases)  # what survey-bot itself says, in `locale`
    language_menu: bool = False  # x-language-menu: a call with no locale chooses one on the keypad first
    number_locales: Mapping[str, str] = field(default_factory=dict)  # x-numbers: number -> locale of its calls
    ai_document: Mapping[str, Any] | None = None  # the document with x-title / x-description for `locale`
    views: Mapping[str, Form] = field(default_factory=dict, compare=False, repr=False)  # every locale's view
    disclosure: str | None = None  # x-disclosure (in `locale`): who is calling and why, said before anything else
    opt_out_key: str | None = None  # x-opt-out.key (default "9" with a disclosure or x-opt-out); None: no opt-out
    placeholders: frozenset[str] = frozenset()  # the {column}s its greeting, disclosure and intro name (any locale)

    def for_locale(self, locale: str | None) -> Form:
        """The form as `locale` speaks it (an unknown or empty locale: the default locale's view)."""
        return self.views.get(locale or "") or self.views.get(self.locales[0]) or self

    @property
    def names(self) -> frozenset[str]:
        """Every field's (dotted) name."""
        return frozenset(f.name for f in self.fields)

    def relevance(self, answers: Mapping[str, Any], sources: Mapping[str, Any]) -> Relevance:
        """The relevant and the required fields of one response, given its answers so far (final ones count)."""
        return self.logic.relevance(answers, sources)

    def greeting(self, values: Mapping[str, str] | None = None) -> str:
        """The voice AI's opening words, its placeholders filled from a contact's `values` (forms.placeholders)."""
        return fill(str(self.voice["greeting"]), values or {})

    def keypad_opening(self, values: Mapping[str, str] | None = None) -> str:
        """The spoken keypad intro (placeholders filled from `values`), with how to decline when the form has
        questions that may be declined."""
        opening, key = fill(str(self.dtmf["intro"]), values or {}), str(self.dtmf.get("decline_key") or "")
        if key and any(f.keypad is not None and f.name in self.logic.never_required for f in self.fields):
            return f"{opening} {decline_hint(key, self.phrases)}"
        return opening

    def disclosure_words(self, values: Mapping[str, str] | None = None) -> str:
        """The disclosure as spoken: the form's words (placeholders filled from `values`), then how to opt out."""
        words = fill(str(self.disclosure or ""), values or {})
        return f"{words} {opt_out_hint(self.opt_out_key, self.phrases)}".strip() if self.opt_out_key else words

    def listens_for_opt_out(self, field: Field) -> bool:
        """Whether the field's keypad question takes the opt-out key: menus and yes/no, not typed digits."""
        return self.opt_out_key is not None and field.keypad is not None and bool(field.keypad.choices)

    @functools.cached_property
    def sensitive_names(self) -> frozenset[str]:
        """The fields whose answers are stored encrypted (x-sensitive true or "keypad"); computed once, as the
        write path asks it for every event."""
        return frozenset(f.name for f in self.fields if f.sensitive)

    def field(self, name: str) -> Field:
        """Return the field named `name` (dotted); KeyError if the form has none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)




@dataclass
class FormCatalog:
    """The forms loaded at start, which form answers which number, and the stored versions met so far.

    Stored versions are read by storage.form_versions, which keeps them here by their row id.
    """

    forms: dict[str, Form]
    default_form: str = ""
    by_version_id: dict[int, Form] = field(default_factory=dict)

    def for_number(self, number: str | None) -> Form | None:
        """The form an inbound call to `number` gets: its x-numbers owner, else the default form."""
        for form in self.forms.values():
            if number and number in form.numbers:
                return form
        return self.forms.get(self.default_form) if self.default_form else None
