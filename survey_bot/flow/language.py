"""Which language a call speaks, when nothing said it before the call was answered (no locale requested for an
outbound call, no number mapped to one): with `x-language-menu`, a keypad menu before the disclosure and the AI
(flow.opening.begin asks it), each sentence in its own language and voice ("For English, press 1." "Para
español, oprima 2."), the last one gathering the key; no key, or a wrong one after Telnyx's tries, gives the
default locale. Without a menu, the default locale. Once chosen, the call goes on as flow.opening.begin says.
"""

from __future__ import annotations

from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Command
from survey_bot.flow.steps import context
from survey_bot.forms.catalogue import language_name
from survey_bot.forms.model import Form

__all__ = ["choose_default", "language_menu", "menu_open", "on_language_chosen"]


def menu_open(state: CallState, form: Form) -> bool:
    """Whether the call's locale is still open and the form asks it with a language menu."""
    return not state.locale and form.language_menu and len(form.locales) > 1


def _sentence(form: Form, locale: str, digit: int) -> str:
    return form.for_locale(locale).phrases.text("menu.language", language=language_name(locale), digit=digit)


def language_menu(state: CallState, form: Form, suffix: str = "") -> list[Command]:
    """A `speak` per locale but the last, in that locale's voice, then the last locale's sentence gathering the
    key (its digit is the locale's place in x-locales)."""
    said = [Command("speak", f"language:{digit}{suffix}", context(state, s="language-say"),
                    {"text": _sentence(form, locale, digit), "locale": locale})
            for digit, locale in enumerate(form.locales[:-1], 1)]
    last = len(form.locales)
    digits = "".join(str(d) for d in range(1, last + 1))
    return [*said, Command("ask_language", f"language{suffix}", context(state, s="language"),
                           {"text": _sentence(form, form.locales[-1], last), "locale": form.locales[-1],
                            "digits": digits})]


def on_language_chosen(event: Event, state: CallState, form: Form) -> bool:
    """The menu's key (or none after Telnyx's tries): the call speaks that locale from now on. False: a
    redelivery, or a choice already made (nothing to go on with)."""
    if state.locale or state.ai_status is not None or state.ai_ended:
        return False
    digits = str(event.payload.get("digits") or "").rstrip("#")
    valid = event.payload.get("status") == "valid" and digits.isdigit() and 1 <= int(digits) <= len(form.locales)
    state.locale = form.locales[int(digits) - 1] if valid else form.locales[0]
    return True


def choose_default(state: CallState, form: Form) -> bool:
    """The menu went unanswered for good (refused, or silent past the watchdog's patience): the default locale.
    False: a locale was chosen already."""
    if state.locale:
        return False
    state.locale = form.locales[0]
    return True
