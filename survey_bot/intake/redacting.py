"""The write path's redaction of sensitive answers (x-sensitive): only calls of forms with sensitive fields pay.

Once a sensitive answer is known (a partial result, the AI's result, keypad digits, a read-back awaiting its 1
or 2), the batch that stores it redacts it (forms.redaction: the value and its spoken forms) from the stored
transcript and from this batch's webhook bodies, and rewrites the call's earlier bodies (storage.redaction), all
in the same transaction. Keys typed while a sensitive field is asked on the keypad are blanked in the event's
body before its first write. Outbox arguments that may hold such an answer (a read-back, a re-ask's history, a
keypad retry's reason) are sealed (storage.sealing) and cleared once sent (dispatch.sender).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from survey_bot.flow.events import Event
from survey_bot.flow.state import CallState, Command
from survey_bot.forms.model import Form
from survey_bot.forms.redaction import Redactor, blank_keys, redactor
from survey_bot.storage.batch import BatchWrites
from survey_bot.storage.records import ResponseRecord
from survey_bot.storage.redaction import rewrite_events
from survey_bot.storage.sealing import seal_arguments

__all__ = ["Redactions", "keypad_body", "outbox_arguments"]

_KEYPAD_KEYS = frozenset({"digit", "digits"})


def _locale(form: Form) -> str:
    return str(form.dtmf.get("language") or "en")


def _known(state: CallState, names: Collection[str]) -> frozenset[tuple[str, Any]]:
    """The sensitive values this call's state holds, as (field, value) pairs (hashable: scalars)."""
    found = {(name, state.answers[name]) for name in names if state.answers.get(name) is not None}
    pending = state.readback
    if isinstance(pending, dict) and pending.get("field") in names and pending.get("value") is not None:
        found.add((pending["field"], pending["value"]))
    return frozenset(pair for pair in found if isinstance(pair[1], str | int | float))


def keypad_body(event: Event, state: CallState, form: Form) -> str | None:
    """The event's body as first stored when it carries keys typed for a sensitive field (blanked); else None."""
    names = form.sensitive_names
    asked: Any = None
    if event.event_type == "call.gather.ended" and event.client_state.get("s") == "keypad":
        asked = event.client_state.get("f")
    elif event.event_type == "call.dtmf.received" and state.readback is None:
        asked = state.current_field
    return blank_keys(event.raw, _KEYPAD_KEYS, asked) if asked in names and event.raw else None


def outbox_arguments(command: Command, arguments: dict[str, Any], state: CallState,
                     form: Form) -> dict[str, Any]:
    """A command's arguments as the outbox keeps them: sealed when they may hold a sensitive answer."""
    names = form.sensitive_names
    about = command.details.get("field", command.context.get("f"))
    if about in names or (command.action == "ask_ai" and command.details.get("history")):
        return seal_arguments(arguments)
    known = _known(state, names)
    if known and redactor(known, _locale(form)).json(arguments) is not arguments:
        return seal_arguments(arguments)
    return arguments


@dataclass
class Redactions:
    """One batch's responses of forms with sensitive fields: what each knew before the batch, and its form."""

    before: dict[str, frozenset[tuple[str, Any]]] = field(default_factory=dict)
    forms: dict[str, Form] = field(default_factory=dict)

    def watch(self, record: ResponseRecord, form: Form) -> None:
        """Follow this response through the batch (call before deciding each of its events)."""
        if form.sensitive_names and record.id not in self.before:
            self.before[record.id] = _known(record.state, form.sensitive_names)
            self.forms[record.id] = form

    async def apply(self, session: AsyncSession, writes: BatchWrites,
                    records: dict[str, ResponseRecord]) -> list[ResponseRecord]:
        """Redact what the batch writes, and rewrite what the responses stored earlier when a value is new;
        return the responses whose transcript changed (to be written)."""
        changed: list[ResponseRecord] = []
        rows_of: dict[str, list[dict[str, Any]]] = {}
        for row in writes.events:
            if row["response_id"] in self.forms:
                rows_of.setdefault(row["response_id"], []).append(row)
        for response_id, form in self.forms.items():
            record = records[response_id]
            known = _known(record.state, form.sensitive_names) | self.before[response_id]
            if not known:
                continue
            hide: Redactor = redactor(known, _locale(form))
            for row in rows_of.get(response_id, ()):
                row["body"] = hide.body(row["body"])
            history = hide.json(record.state.message_history)
            if history is not record.state.message_history:
                record.state.message_history = history
                changed.append(record)
            if not known <= self.before[response_id]:
                await rewrite_events(session, response_id, record.call_control_id, hide)
        return changed
