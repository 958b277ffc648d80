"""The voice AI's part: partial answers as they come, the result when a gather ends, and one targeted re-ask.

When the first gather ends, what the AI got right is kept (source `ai`). Relevant fields still missing (the
required ones) or answered wrongly are asked again: by the AI once more when the keypad cannot ask them
(`x-reask`, default `{"max": 1, "fields": "no-keypad"}`), seeded with the transcript so far; the rest on the
keypad. A field whose only answer is a partial result is not final: it is asked like a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from survey_bot.flow.events import Event
from survey_bot.flow.keypad import ask_next
from survey_bot.flow.state import CallState, Command
from survey_bot.flow.steps import context, event_time, keep, keep_newest_history
from survey_bot.forms.answers import flatten, normalized, validate_answers, validate_field
from survey_bot.forms.model import DECLINED_KEY, Form
from survey_bot.vocabulary import AI, AI_PARTIAL, DECLINED, DTMF, FINAL_SOURCES

__all__ = ["on_ai_ended", "on_partial_results", "reask", "reask_fields"]


def _attempt(event: Event) -> str:
    """Which AI gather an event belongs to: the first ("ai") or a re-ask ("reask 1")."""
    number = event.client_state.get("n")
    return f"reask {number}" if event.client_state.get("s") == "reask" else "ai"


def on_partial_results(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Keep each partial answer that fits its field, unless a newer or final one is already there."""
    partial = event.payload.get("partial_results")
    heard_at = event_time(event, now)
    keep_newest_history(event, state, now)
    if isinstance(partial, Mapping):
        turn = len(state.message_history) - 1 if state.message_history else None
        for name, value in flatten(form, partial).items():
            if state.sources.get(name) in (*FINAL_SOURCES, DECLINED):
                continue
            field = form.field(name)
            value = normalized(field, value)
            if state.answer_times.get(name, "") > heard_at or validate_field(field, value):
                continue
            keep(state, name, value, AI_PARTIAL, heard_at, _attempt(event), turn)
    return []


def on_ai_ended(event: Event, state: CallState, form: Form, now: datetime) -> list[Command]:
    """Keep what the AI got right and what the caller declined; then re-ask by voice, or go to the keypad."""
    keep_newest_history(event, state, now)
    gather = event.client_state.get("n", 0) if event.client_state.get("s") == "reask" else 0
    if gather != state.ai_ended:
        return []  # a redelivery, or the end of a gather already handled
    state.ai_ended += 1
    status = event.payload.get("status")
    status = status if status in ("valid", "invalid") else "invalid"
    state.ai_status = state.ai_status or status
    result = event.payload.get("result")
    invalid: set[str] = set()
    if status == "valid" and isinstance(result, Mapping):
        invalid = _keep_result(event, state, form, result, now)
    fields = reask_fields(state, form, invalid)
    limit = form.reask.get("max", 1)
    if fields and state.reasks < (limit if isinstance(limit, int) else 1):
        state.reasks += 1
        return [reask(state, form, fields)]
    return ask_next(state, form, now)


def reask(state: CallState, form: Form, fields: list[str]) -> Command:
    """The targeted AI gather number `state.reasks`: only `fields`, seeded with the transcript so far."""
    required = sorted(form.relevance(state.answers, state.sources).required & set(fields))
    return Command("ask_ai", f"ai:reask:{state.reasks}", context(state, s="reask", n=state.reasks),
                   {"fields": fields, "required": required, "history": list(state.message_history)})


def _keep_result(event: Event, state: CallState, form: Form, result: Mapping[str, Any], now: datetime) -> set[str]:
    """Keep the result's valid answers (a keypad answer stays); return the fields it answered wrongly."""
    heard_at, attempt = event_time(event, now), _attempt(event)
    turn = len(state.message_history) - 1 if state.message_history else None
    valid, errors = validate_answers(form, result)
    for name, value in valid.items():
        if state.sources.get(name) != DTMF:
            keep(state, name, value, AI, heard_at, attempt, turn)
    declined = result.get(DECLINED_KEY)
    required = form.relevance(state.answers, state.sources).required
    for name in declined if isinstance(declined, list) else []:
        if isinstance(name, str) and name in form.names and name not in required \
                and state.sources.get(name) not in FINAL_SOURCES:
            keep(state, name, None, DECLINED, heard_at, attempt, turn)
    return {name for name, error in errors.items() if error != "required"}


def reask_fields(state: CallState, form: Form, invalid: set[str]) -> list[str]:
    """The relevant fields to ask the AI again: required ones still without a final answer, and those answered
    wrongly; only those the keypad cannot ask, unless x-reask says "all"."""
    relevance = form.relevance(state.answers, state.sources)
    voice_only = form.reask.get("fields") != "all"
    return [field.name for field in form.fields
            if field.name in relevance.relevant
            and (field.name in relevance.required or field.name in invalid)
            and state.sources.get(field.name) not in (*FINAL_SOURCES, DECLINED)
            and not (voice_only and field.keypad is not None)]
