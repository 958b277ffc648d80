"""Describe one scripted phone call: who calls whom, what the caller says and keys, how webhooks travel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "AIStep",
    "Delivery",
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
    """

    duplicate_every: bool = False
    reorder_window: int = 0
    delay_s: float = 0.0
    seed: int = 0


@dataclass
class Scenario:
    """One scripted call, played by the simulated caller in answer to the app's commands.

    direction: "incoming" (start it with `FakeTelnyx.start_call`) or "outgoing" (register it with
        `FakeTelnyx.expect_dial`; the app's dial to `to_number` picks it up).
    answers / no_answer_cause: for outgoing calls, whether the callee picks up, and if not, the
        `hangup_cause` of the resulting `call.hangup`.
    ai_steps, ai_status, ai_result: what one `gather_using_ai` hears and reports. `ai_result=None`
        reports the last step's `partial_results` when the status is "valid", else null.
    keypad: consumed one entry per `gather_using_speak` (or `gather`); once exhausted the caller
        hangs up.
    hangup_during_ai_after: the caller hangs up after this many AI steps instead of finishing.
    """

    direction: Literal["incoming", "outgoing"] = "incoming"
    from_number: str = "+15550001111"
    to_number: str = "+15550002222"
    answers: bool = True
    no_answer_cause: Literal["no_answer", "user_busy"] = "no_answer"
    ai_steps: list[AIStep] = field(default_factory=list)
    ai_status: Literal["valid", "invalid"] = "valid"
    ai_result: dict[str, Any] | None = None
    keypad: list[KeypadEntry] = field(default_factory=list)
    hangup_during_ai_after: int | None = None
    delivery: Delivery = field(default_factory=Delivery)
