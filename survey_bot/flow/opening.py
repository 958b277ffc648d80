"""How a call opens before the survey, and how a person leaves it for good.

An outbound dial with answering machine detection waits for its verdict before saying anything: a person (or
an unsure verdict) gets the conversation; a machine gets the voicemail message once its greeting has ended
(the beep), never on the detection itself, then the hang-up, or the hang-up at once without a message; a fax
is hung up on. Telnyx may send the greeting's end before the detection (premium, a beep heard first: then
only the greeting's end comes), so either order leads to the same decisions.

A call whose locale is still open hears the form's language menu first (flow.language), so that the rest is
said in the language chosen. A form with a disclosure (x-disclosure) says who is calling and why before anything
else, with how to opt out; the opt-out key is listened for while it is said. An opt-out (that key, on the
disclosure or on a keypad question that listens for it, or a spoken request the voice AI flags) ends the call
politely; the write path puts the number on the suppression list in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from survey_bot.flow.events import Event
from survey_bot.flow.language import language_menu, menu_open
from survey_bot.flow.resume import awaiting_resume, on_resumed_answer
from survey_bot.flow.state import CallState, Command
from survey_bot.flow.steps import contact_details, context, hangup
from survey_bot.forms.model import Form
from survey_bot.forms.phrases import OPT_OUT_PROPERTY
from survey_bot.vocabulary import MACHINE, OPT_OUT

__all__ = ["AMD_MODES", "HUMAN_RESULTS", "Amd", "awaiting_detection", "begin", "on_disclosure_ended",
           "on_greeting_ended", "on_machine_detected", "on_voicemail_spoken", "opt_out", "opted_out_by_key",
           "opted_out_by_voice"]

# What a dial may ask Telnyx for (the SDK's answering_machine_detection, but `disabled`).
AMD_MODES = ("premium", "detect", "detect_beep", "detect_words", "greeting_end", "premium_ios_call_screening_detection")
# Detection results after which the conversation starts (`not_sure`, `silence`: better to try than to hang up).
HUMAN_RESULTS = frozenset({"human", "human_residence", "human_business", "not_sure", "silence"})
FAX = "fax_detected"


@dataclass(frozen=True)
class Amd:
    """Answering machine detection for one dial: the message left on a machine (none: hang up on it), and the
    mode. `premium` by default: it tells a fax from a machine and reports a machine's greeting ending (the
    beep, or none), which a voicemail waits for."""

    voicemail: str | None = None
    mode: str = "premium"

    def __post_init__(self) -> None:
        if self.mode not in AMD_MODES:
            raise ValueError(f"answering machine detection mode {self.mode!r}: one of {', '.join(AMD_MODES)}")

    def outreach(self) -> dict[str, Any]:
        """What the response remembers of it (flow.state.CallState.outreach)."""
        return {"amd": self.mode, **({"voicemail": self.voicemail} if self.voicemail else {})}


def awaiting_detection(state: CallState) -> bool:
    """Whether the dial asked for answering machine detection and its verdict has not come yet."""
    return bool(state.outreach.get("amd")) and "result" not in state.outreach


def begin(state: CallState, form: Form, now: datetime) -> list[Command]:
    """A person is on the line: the language menu while the call's locale is open and the form has one, then the
    disclosure when the form has one, then the survey (once)."""
    resuming = awaiting_resume(state)  # a campaign's re-dial after a breakoff: its AI gathers count as ended
    if (not resuming and (state.ai_status is not None or state.ai_ended)) or state.outreach.get("disclosure") \
            or state.outreach.get("opt_out"):
        return []
    if menu_open(state, form):
        return language_menu(state, form)
    state.locale = state.locale or form.locales[0]
    if form.disclosure:
        state.outreach["disclosure"] = "spoken"
        return [Command("disclose", "disclosure", context(state, s="disclosure"), contact_details(state))]
    return _survey(state, form, now)


def _survey(state: CallState, form: Form, now: datetime) -> list[Command]:
    """The survey itself: the voice AI, or on a resumed response only what is left (flow.resume)."""
    if awaiting_resume(state):
        return on_resumed_answer(state, form, now)
    return [Command("ask_ai", "ai", context(state, s="ai"), contact_details(state))]


def on_machine_detected(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """`call.machine.detection.ended` / `call.machine.premium.detection.ended`: a person, a machine, a fax."""
    if not state.outreach.get("amd") or "result" in state.outreach:
        return []  # not asked for, a redelivery, or the greeting's end already said it was a machine
    result = str(event.payload.get("result") or "not_sure")[:40]
    state.outreach["result"] = result
    if result in HUMAN_RESULTS:
        return begin(state, form, now)
    state.hangup_cause = MACHINE
    if result == "machine" and state.outreach.get("voicemail"):
        return _voicemail(state) if "greeting" in state.outreach else []  # wait for the beep
    return [hangup(state)]


def on_greeting_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """`call.machine.greeting.ended` / `call.machine.premium.greeting.ended`: a machine's greeting is over."""
    if not state.outreach.get("amd") or "greeting" in state.outreach:
        return []
    state.outreach["greeting"] = str(event.payload.get("result") or "ended")[:40]
    result = state.outreach.get("result")
    if result in HUMAN_RESULTS or result == FAX:
        return []  # the conversation is under way, or the call is being hung up
    if result is None:  # only a machine's greeting ends: the detection is late or will not come
        state.outreach["result"], state.hangup_cause = "machine", MACHINE
        if not state.outreach.get("voicemail"):
            return [hangup(state)]
    return _voicemail(state) if state.outreach.get("voicemail") else []


def _voicemail(state: CallState) -> list[Command]:
    return [Command("speak", "voicemail", context(state, s="voicemail"), {"text": str(state.outreach["voicemail"])})]


def on_voicemail_spoken(event: Event, state: CallState) -> list[Command]:
    """The message was said (or the machine hung up during it): hang up."""
    state.outreach["voicemail_left"] = event.payload.get("status", "completed") == "completed"
    return [hangup(state)]


def on_disclosure_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """The disclosure's gather ended: the opt-out key, a hang-up (a refusal), or on to the survey."""
    if state.outreach.get("disclosure") != "spoken":
        return []  # a redelivery
    status, digits = str(event.payload.get("status") or ""), str(event.payload.get("digits") or "")
    if status == "call_hangup":
        return []  # the hang-up follows; the disclosure stays unheard
    if status == "valid" and form.opt_out_key and digits.rstrip("#") == form.opt_out_key:
        return opt_out(state, form, "key")
    state.outreach["disclosure"] = "heard"
    return _survey(state, form, now)


def opted_out_by_key(event: Event, state: CallState, form: Form) -> bool:
    """Whether a keypad question (or read-back) that listens for the opt-out key got it."""
    name, kind = event.client_state.get("f"), event.client_state.get("s")
    if form.opt_out_key is None or event.payload.get("status") != "valid" or name != state.current_field \
            or not isinstance(name, str) or name not in form.names:
        return False
    listens = kind == "confirm" or (kind == "keypad" and form.listens_for_opt_out(form.field(name)))
    return listens and str(event.payload.get("digits") or "").rstrip("#") == form.opt_out_key


def opted_out_by_voice(result: Any) -> bool:
    """Whether the voice AI flagged that the caller asked not to be called again."""
    return isinstance(result, Mapping) and result.get(OPT_OUT_PROPERTY) is True


def opt_out(state: CallState, form: Form, how: str, *, goodbye: bool = True) -> list[Command]:
    """The person opted out (`key` or `voice`): no more questions; say goodbye (once, in the call's language) and
    hang up."""
    if not state.outreach.get("opt_out"):
        state.outreach["opt_out"], state.hangup_cause = how, OPT_OUT
    state.current_field, state.readback, state.keypad_queue = None, None, []
    if not goodbye or state.outreach.get("goodbye"):
        return []
    state.outreach["goodbye"] = True
    return [Command("speak", "opt-out", context(state, s="closing"), {"text": form.phrases.text("optout.goodbye")})]
