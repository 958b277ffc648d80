"""What the flow reads and writes: a call's state (a plain mirror of the stored response), the commands it
makes due, and the decision that pairs them.

`STATE_FIELDS` is derived from CallState itself: the one declaration of what a response's state is. The
storage layer maps rows to states and back with it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from survey_bot.vocabulary import IN_PROGRESS

__all__ = ["ACTIONS", "STATE_FIELDS", "CallState", "Command", "Decision"]

# What a Command may ask for. ask_ai details: fields and history for a re-ask (none: the whole form);
# ask_keypad details: field, intro (say the keypad intro first), retry (why the last entry was refused);
# confirm details: field, value (read back for a 1 or a 2); speak details: text; play details: audio (the
# form's recorded words: intro, closing); reject details: cause; dial details: to, from, connection_id, amd
# (an answering machine detection mode); disclose details: none (the form's x-disclosure, opt-out key listened
# for). speak details may name the locale whose voice says it; ask_language details: text, locale, digits (the
# language menu's gathering sentence). disclose, ask_ai (the first) and ask_keypad with intro details may carry
# contact: a campaign contact's values for the text's {placeholders} (flow.steps.contact_details).
ACTIONS = frozenset({"answer", "reject", "ask_ai", "ask_keypad", "confirm", "speak", "play", "hangup", "dial",
                     "ask_language", "disclose"})


@dataclass(frozen=True)
class Command:
    """One thing the flow asks the telephony provider to do on a call; `step` is unique within the call.

    Provider-neutral: `action` is one of ACTIONS; `context` is what the call's later events must carry back
    (the response, the step, the field and attempt: Telnyx echoes it as client_state); `details` is what the
    action needs beyond the form. telephony.arguments turns a Command into the provider's request.
    """

    action: str
    step: str
    context: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CallState:
    """What the flow reads and changes of a response (a plain mirror of the stored row)."""

    response_id: str
    direction: str
    status: str = IN_PROGRESS
    answers: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    answer_times: dict[str, str] = field(default_factory=dict)
    message_history: list[Any] = field(default_factory=list)
    message_history_at: str | None = None
    keypad_attempts: list[dict[str, Any]] = field(default_factory=list)
    keypad_queue: list[str] | None = None
    current_field: str | None = None
    ai_status: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    hangup_cause: str | None = None
    hangup_source: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    completed_at: datetime | None = None
    # per answered (or declined) field: {"attempt": "ai" | "reask 1" | "keypad 2", "turn": last transcript turn}
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    keypad_done: list[str] = field(default_factory=list)  # fields whose keypad turn is over (answered or not)
    reasks: int = 0  # targeted AI gathers issued after the first
    ai_ended: int = 0  # AI gathers (the first and the re-asks) whose end has been handled
    readback: dict[str, Any] | None = None  # digits entered, read back and awaiting the caller's 1 or 2
    finished_at: datetime | None = None  # when nothing was left to ask (the form ran to its end)
    watchdog: list[dict[str, Any]] = field(default_factory=list)  # what the watchdog found and did (flow.watchdog)
    locale: str = ""  # the locale the call speaks (one of the form's); "" until a language menu has been answered
    # how the call opened (flow.opening): the dial's answering machine detection ("amd" mode, "voicemail" text),
    # what it found ("result", "greeting", "voicemail_left"), the disclosure ("disclosure": spoken | heard) and
    # an opt-out ("opt_out": key | voice); a campaign call's "contact": its values for the form's {placeholders}
    outreach: dict[str, Any] = field(default_factory=dict)
    calls: int = 1  # calls the response has been on (a campaign's re-dial after a breakoff: flow.resume)


@dataclass
class Decision:
    """The state after an event and the commands it made due."""

    state: CallState
    commands: list[Command] = field(default_factory=list)




# Every field of CallState but the response's identity: what a webhook may change, column by column.
STATE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(CallState) if f.name not in ("response_id", "direction"))
