"""The keypad phase: what the AI did not get, asked field by field, in form order, among the fields relevant now.

The queue is recomputed after every answer (an answer can make a later question relevant or not). A prompt's
digits may decline an optional question (the decline key as the whole entry), be refused and asked again while
`maximum_tries` remain, or, for fields that confirm (x-confirm), be read back for a 1 (right) or a 2 (enter it
again, counting against the tries); a read-back left unanswered keeps the value as entered.

A recorded question (x-audio) cannot carry spoken words: the keypad intro and a refusal's reason go before it as
commands of their own, and recorded intro or closing words (x-dtmf.audio) are played as commands of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from survey_bot.errors import DigitsError
from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Command
from survey_bot.flow.steps import contact_details, contact_values, context, event_time, hangup, keep
from survey_bot.forms.digits import parse_digits
from survey_bot.forms.model import Form
from survey_bot.forms.phrases import CANNOT_DECLINE, reason, refusal
from survey_bot.forms.redaction import label
from survey_bot.vocabulary import DECLINED, DTMF, FINAL_SOURCES

__all__ = ["ask_next", "closing", "give_up", "on_gather_ended", "queue", "tries"]


def queue(state: CallState, form: Form) -> list[str]:
    """The fields still to ask on the keypad: relevant now, with a keypad, unanswered, not declined, not done."""
    relevant = form.relevance(state.answers, state.sources).relevant
    return [f.name for f in form.fields if f.keypad is not None and f.name in relevant
            and state.sources.get(f.name) not in (*FINAL_SOURCES, DECLINED) and f.name not in state.keypad_done]


def ask_next(state: CallState, form: Form, now: datetime) -> list[Command]:
    """Ask the next field, or, with nothing left to ask, end the form: closing words if the keypad was used."""
    if state.ended_at is not None:
        return []
    state.keypad_queue = queue(state, form)
    state.current_field = None
    if state.keypad_queue:
        name = state.keypad_queue[0]
        if state.keypad_attempts:
            return [prompt(state, form, name, 1)]
        opening = _opening(state, form, name)
        return [*opening, prompt(state, form, name, 1, intro=not opening)]
    state.finished_at = state.finished_at or now
    if state.keypad_attempts and (form.audio.get("closing") or form.dtmf.get("closing")):
        return [closing(state, form)]
    return [hangup(state)]


def _opening(state: CallState, form: Form, name: str) -> list[Command]:
    """The keypad intro as a command of its own: recorded, or spoken before a recorded first question (a spoken
    question says it itself: none)."""
    if form.audio.get("intro"):
        return [Command("play", "keypad-intro", context(state, s="intro"), {"audio": "intro"})]
    if form.field(name).audio is not None:
        text = form.keypad_opening(contact_values(state))
        return [Command("speak", "keypad-intro", context(state, s="intro"), {"text": text})]
    return []


def closing(state: CallState, form: Form, suffix: str = "") -> Command:
    """The closing words, recorded or spoken; the call is hung up once they have been played (s=closing)."""
    if form.audio.get("closing"):
        return Command("play", f"closing{suffix}", context(state, s="closing"), {"audio": "closing"})
    return Command("speak", f"closing{suffix}", context(state, s="closing"), {"text": str(form.dtmf["closing"])})


def give_up(state: CallState, form: Form, name: str, now: datetime) -> list[Command]:
    """The field's keypad turn is over without (another) answer: on to the next one."""
    state.readback = None
    if name not in state.keypad_done:
        state.keypad_done.append(name)
    return ask_next(state, form, now)


def on_gather_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """A keypad prompt ended (its digits, a timeout, a refusal), or a read-back did: decide what comes next."""
    name, attempt, kind = event.client_state.get("f"), event.client_state.get("n"), event.client_state.get("s")
    if not isinstance(name, str) or name != state.current_field or kind not in ("keypad", "confirm"):
        return []
    if any(a["field"] == name and a["n"] == attempt and a.get("kind", "keypad") == kind
           for a in state.keypad_attempts):
        return []  # a redelivery
    status = str(event.payload.get("status") or "invalid")
    digits = str(event.payload.get("digits") or "")
    record: dict[str, Any] = {"field": name, "n": attempt, "status": status, "digits": digits,
                              "at": event_time(event, now)}
    if kind == "confirm":
        record["kind"] = "confirm"
    state.keypad_attempts.append(record)
    if status == "call_hangup":
        return []
    if kind == "confirm":
        return _confirmed(state, form, name, status, digits, record, now)
    if status != "valid":  # Telnyx's own tries are spent: timeout, or keys it refused
        return give_up(state, form, name, now)
    return _entered(state, form, name, digits, record, now)


def _entered(state: CallState, form: Form, name: str, digits: str, record: dict[str, Any],
             now: datetime) -> list[Command]:
    field = form.field(name)
    asked = tries(state, name)
    if _keys(field.keypad.terminator if field.keypad else "", digits) == form.dtmf.get("decline_key", "*"):
        if name not in form.relevance(state.answers, state.sources).required:
            keep(state, name, None, DECLINED, record["at"], f"keypad {asked}")
            return give_up(state, form, name, now)
        record["error"] = CANNOT_DECLINE
        return _again(state, form, name, asked, form.phrases.text("reason.cannot_decline"), now)
    try:
        value = parse_digits(field, digits)
    except DigitsError as exc:
        record["error"] = _kept_reason(field.sensitive, name, digits, exc.reason)
        return _again(state, form, name, asked, reason(exc.said, form.phrases), now)
    if field.confirm:
        state.readback = {"field": name, "value": value, "n": asked, "at": record["at"]}
        return [read_back(state, name, value, asked)]
    keep(state, name, value, DTMF, record["at"], f"keypad {asked}")
    return give_up(state, form, name, now)


def _confirmed(state: CallState, form: Form, name: str, status: str, digits: str, record: dict[str, Any],
               now: datetime) -> list[Command]:
    pending = state.readback
    if pending is None or pending["field"] != name:
        return give_up(state, form, name, now)
    if status == "valid" and digits.rstrip("#") == "2":  # "enter it again"
        return _again(state, form, name, tries(state, name), None, now)
    # a 1, or a read-back left unanswered after Telnyx's repeats: the value stays as entered
    keep(state, name, pending["value"], DTMF, str(pending["at"]), f"keypad {pending['n']}")
    return give_up(state, form, name, now)


def _again(state: CallState, form: Form, name: str, tries: int, why_not: str | None,
           now: datetime) -> list[Command]:
    """Ask the field once more while tries remain (a read-back's 2 and refused digits count); else move on."""
    state.readback = None
    if tries < int(form.dtmf.get("maximum_tries", 3)):
        if why_not and form.field(name).audio is not None:  # a recording cannot say why: speak it first
            why = Command("speak", f"keypad:{name}:{tries + 1}:why", context(state, s="why", f=name, n=tries + 1),
                          {"text": refusal(why_not, form.phrases)})
            return [why, prompt(state, form, name, tries + 1)]
        return [prompt(state, form, name, tries + 1, retry=why_not)]
    return give_up(state, form, name, now)


def _kept_reason(sensitive: object, name: str, digits: str, reason: str) -> str:
    """Why digits were refused, as stored: the keys of a sensitive field redacted (the caller still hears them)."""
    keys = digits.rstrip("#*")
    return reason.replace(keys, label(name)) if sensitive and keys else reason


def tries(state: CallState, name: str) -> int:
    """How many times the field has been asked on the keypad (read-backs not counted)."""
    return sum(1 for a in state.keypad_attempts if a["field"] == name and a.get("kind", "keypad") == "keypad")


def _keys(terminator: str, digits: str) -> str:
    end = terminator or "#"  # Telnyx ends on # unless told otherwise, and may or may not report it
    return digits[: -len(end)] if digits.endswith(end) else digits


def read_back(state: CallState, name: str, value: Any, attempt: int) -> Command:
    """Read the digits entered at the field's `attempt` back, for a 1 (right) or a 2 (enter it again)."""
    return Command("confirm", f"confirm:{name}:{attempt}", context(state, s="confirm", f=name, n=attempt),
                   {"field": name, "value": value})


def prompt(state: CallState, form: Form, name: str, attempt: int, *, intro: bool = False,
           retry: str | None = None) -> Command:
    """Ask the field on the keypad (its `attempt`-th time); the field becomes the one awaited."""
    state.current_field = name
    declinable = name not in form.relevance(state.answers, state.sources).required
    return Command("ask_keypad", f"keypad:{name}:{attempt}", context(state, s="keypad", f=name, n=attempt),
                   {"field": name, "intro": intro, "retry": retry, "declinable": declinable,
                    **(contact_details(state) if intro else {})})
