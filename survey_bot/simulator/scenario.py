"""Describe one scripted phone call: who calls whom, what the caller says and keys, how webhooks travel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CALLEES",
    "AIGather",
    "AIHistory",
    "AIPartial",
    "AIStep",
    "Callee",
    "Delivery",
    "HangupAt",
    "KeypadEntry",
    "KeypadHangup",
    "KeypadInvalid",
    "KeypadTimeout",
    "Scenario",
]


@dataclass(frozen=True)
class AIStep:
    """One exchange with the voice AI: its question, the caller's reply, and what it knows after that.

    `partial_results` is cumulative: everything the AI has gathered after this reply, not just the new part.
    """

    partial_results: dict[str, Any]
    assistant: str
    user: str


@dataclass(frozen=True)
class AIPartial:
    """The AI reports what it has gathered so far (cumulative), without a new turn of the transcript."""

    partial_results: dict[str, Any]


@dataclass(frozen=True)
class AIHistory:
    """New turns of the transcript (`{"role": "assistant" | "user", "content": ...}`), reported as they happen."""

    turns: tuple[dict[str, str], ...]


AIEvent = AIStep | AIPartial | AIHistory


@dataclass(frozen=True)
class AIGather:
    """What one `gather_using_ai` hears and how it ends. `result` None with status "valid": the last partial."""

    steps: tuple[AIEvent, ...] = ()
    status: Literal["valid", "invalid"] = "valid"
    result: dict[str, Any] | None = None


@dataclass(frozen=True)
class KeypadTimeout:
    """The caller keys nothing: the gather ends with status `timeout` and no digits."""


@dataclass(frozen=True)
class KeypadInvalid:
    """The caller keys something the gather refuses: status `invalid`, with these digits."""

    digits: str = ""


@dataclass(frozen=True)
class KeypadHangup:
    """The caller hangs up instead of keying: status `call_hangup`, then `call.hangup`."""


# A digits string ("42#" or "42": whether the terminating "#" shows up in `digits` is undocumented,
# so scenarios choose) or one of the outcomes above.
KeypadEntry = str | KeypadTimeout | KeypadInvalid | KeypadHangup


@dataclass(frozen=True)
class Delivery:
    """How the call's webhooks travel.

    duplicate_every: deliver every event twice (same `data.id`), as Telnyx may.
    reorder_window: shuffle the events of one command in windows of this many (0 or 1 keeps order).
    delay_s: wait this long before each delivery.
    seed: seeds the shuffle, so a reordering is reproducible.
    drop: event types never delivered (a webhook Telnyx gave up on): what survey-bot's watchdog is for.
    """

    duplicate_every: bool = False
    reorder_window: int = 0
    delay_s: float = 0.0
    seed: int = 0
    drop: frozenset[str] = frozenset()


# Who picks up an outbound call: a person (the script plays), nobody, or something that is not a person.
Callee = Literal["human", "busy", "no_answer", "machine", "machine_beep", "fax", "invalid_number"]
CALLEES: tuple[str, ...] = ("human", "busy", "no_answer", "machine", "machine_beep", "fax", "invalid_number")
# Where the caller hangs up: while talking to the AI (after its steps), as the keypad is about to be used,
# when the keypad asks for one field (`("keypad_field", name)`), or while the form's disclosure is spoken.
HangupAt = Literal["during_ai", "before_keypad", "during_disclosure"] | tuple[Literal["keypad_field"], str] | None


@dataclass
class Scenario:
    """One scripted call, played by the simulated caller in answer to the app's commands.

    direction: "incoming" (start it with `FakeTelnyx.start_call`) or "outgoing" (register it with
        `FakeTelnyx.expect_dial`; the app's dial to `to_number` picks it up).
    answers / no_answer_cause: for outgoing calls, whether the callee picks up, and if not, the
        `hangup_cause` of the resulting `call.hangup`.
    ai_steps, ai_status, ai_result: what one `gather_using_ai` hears and reports. `ai_result=None`
        reports the last step's `partial_results` when the status is "valid", else null.
    ai_gathers: when set, each `gather_using_ai` plays the next one (a re-ask hears the second); it replaces
        ai_steps/ai_status/ai_result. Once they run out, a gather ends invalid with nothing heard.
    keypad: a list is consumed one entry per `gather_using_speak` (or `gather`), whatever the field; once
        exhausted the caller hangs up. A mapping {field: entries} is played as Telnyx does: within one
        command a timeout or an invalid entry repeats the prompt while `maximum_tries` remain, and the
        gather ends on digits or on the last try; a field without entries left times out.
    hangup_during_ai_after: the caller hangs up after this many AI steps instead of finishing.
    hangup: where the caller hangs up (see HangupAt); "during_ai" hangs up after the first gather's steps.
    callee: for outgoing calls, who picks up (overrides answers / no_answer_cause). A machine or a fax answers;
        what the dial's answering machine detection reports about it is simulator.machines'.
    greeting_s: seconds between a machine's detection and the end of its greeting (its beep).
    ring_s: seconds an outgoing call rings before its callee picks up or, for `no_answer`, before Telnyx gives
        up with `no_answer` (0: at once). A busy line or an invalid number never rings. Hanging up ends the ring.
    disclosure_keys: keys pressed while the form's disclosure is spoken (e.g. the opt-out key); none: silence.
    """

    direction: Literal["incoming", "outgoing"] = "incoming"
    from_number: str = "+15550001111"
    to_number: str = "+15550002222"
    answers: bool = True
    no_answer_cause: Literal["no_answer", "user_busy"] = "no_answer"
    ai_steps: list[AIStep] = field(default_factory=list)
    ai_status: Literal["valid", "invalid"] = "valid"
    ai_result: dict[str, Any] | None = None
    keypad: list[KeypadEntry] | dict[str, list[KeypadEntry]] = field(default_factory=list)
    hangup_during_ai_after: int | None = None
    delivery: Delivery = field(default_factory=Delivery)
    ai_gathers: list[AIGather] | None = None
    hangup: HangupAt = None
    callee: Callee | None = None
    greeting_s: float = 0.3
    ring_s: float = 0.0
    disclosure_keys: str | None = None

    def who_answers(self) -> Callee:
        """The callee, from `callee` or the older answers / no_answer_cause."""
        if self.callee is not None:
            return self.callee
        if self.answers:
            return "human"
        return "busy" if self.no_answer_cause == "user_busy" else "no_answer"

    def gathers(self) -> list[AIGather]:
        """The AI gathers in order (the older single-gather fields as one)."""
        if self.ai_gathers is not None:
            return self.ai_gathers
        steps = self.ai_steps if self.hangup_during_ai_after is None else self.ai_steps[:self.hangup_during_ai_after]
        return [AIGather(tuple(steps), self.ai_status, self.ai_result)]
