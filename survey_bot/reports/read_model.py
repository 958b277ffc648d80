"""The one read model: forms with their versions and counts, pages of responses, one response in full with its
call's timeline. The admin API returns these values as JSON and the dashboard renders them. Functions take a
session first and never write."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from survey_bot.errors import FormError
from survey_bot.forms.model import Form, FormCatalog
from survey_bot.forms.schema_walk import leaves
from survey_bot.reports import metrics
from survey_bot.reports.export import ResponseFilter, keyset_after
from survey_bot.reports.views import (
    AnswerEntry,
    AnswerState,
    CommandEntry,
    EventEntry,
    FormSummary,
    ResponseDetail,
    ResponsePage,
    ResponseSummary,
    StatusCounts,
    VersionSummary,
)
from survey_bot.storage.form_versions import form_of_version
from survey_bot.storage.models import Command, FormVersion, Response, WebhookEvent
from survey_bot.storage.sealing import installed, masked_attempts, open_answers, shown_answers
from survey_bot.utc import as_utc
from survey_bot.vocabulary import AI_PARTIAL, DECLINED, FINAL_SOURCES

__all__ = ["CursorError", "answer_entries", "decode_cursor", "encode_cursor", "forms_overview", "response_detail",
           "response_page"]


class CursorError(ValueError):
    """A cursor this API did not issue."""


def encode_cursor(started_at: datetime, response_id: str) -> str:
    """An opaque cursor for the position just after (started_at, id)."""
    raw = json.dumps([as_utc(started_at).isoformat(), response_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (started_at, id) a cursor stands for (raises CursorError)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started_at, response_id = json.loads(raw)
        return as_utc(datetime.fromisoformat(started_at)), str(response_id)
    except (binascii.Error, ValueError, TypeError, OverflowError) as exc:
        raise CursorError("cursor: not a cursor this API issued") from exc


async def forms_overview(session: AsyncSession, catalog: FormCatalog, now: datetime) -> list[FormSummary]:
    """Every form loaded or stored: versions newest first, responses by status, started today (UTC)."""
    versions = (await session.execute(
        select(FormVersion).order_by(FormVersion.form_id, FormVersion.created_at.desc(), FormVersion.id.desc())
    )).scalars().all()
    counted = await session.execute(
        select(Response.form_id, Response.form_version_id, Response.status, func.count())
        .group_by(Response.form_id, Response.form_version_id, Response.status))
    midnight = datetime.combine(as_utc(now).date(), time(), UTC)
    today: dict[str, int] = {form_id: count for form_id, count in await session.execute(
        select(Response.form_id, func.count()).where(Response.started_at >= midnight).group_by(Response.form_id))}
    per_version: dict[int, int] = {}
    per_form: dict[str, dict[str, int]] = {}
    for form_id, version_id, status, count in counted:
        per_version[version_id] = per_version.get(version_id, 0) + count
        statuses = per_form.setdefault(form_id, {})
        statuses[status] = statuses.get(status, 0) + count
    by_form: dict[str, list[FormVersion]] = {}
    for version in versions:
        by_form.setdefault(version.form_id, []).append(version)
    summaries = []
    for form_id in sorted({*catalog.forms, *by_form, *per_form}):
        stored, form = by_form.get(form_id, []), catalog.forms.get(form_id)
        newest = stored[0].document if stored else {}
        summaries.append(FormSummary(
            form_id=form_id,
            title=form.title if form is not None else str(newest.get("title") or form_id),
            loaded=form is not None,
            numbers=list(form.numbers) if form is not None else [],
            current_version=form.version if form is not None else None,
            versions=[VersionSummary(version=v.version, created_at=as_utc(v.created_at),
                                     responses=per_version.get(v.id, 0), current=form is not None and
                                     form.version == v.version,
                                     fields=[".".join(leaf.path) for leaf in leaves(v.document)]) for v in stored],
            responses=_counts(per_form.get(form_id, {})),
            today=int(today.get(form_id, 0)),
        ))
    return summaries


def _counts(statuses: Mapping[str, int]) -> StatusCounts:
    known = {name: count for name, count in statuses.items() if name in StatusCounts.model_fields}
    return StatusCounts(**known, total=sum(statuses.values()))


async def response_page(session: AsyncSession, selection: ResponseFilter, limit: int,
                        after: tuple[datetime, str] | None) -> ResponsePage:
    """Up to `limit` responses after the cursor position, oldest first, and the cursor for the next page."""
    statement = (
        select(Response, FormVersion.version)
        .join(FormVersion, FormVersion.id == Response.form_version_id)
        .options(defer(Response.message_history), defer(Response.keypad_attempts), defer(Response.failures),
                 defer(Response.keypad_queue), defer(Response.answer_times))
        .where(*selection.conditions())
        .order_by(Response.started_at, Response.id)
        .limit(limit + 1)
    )
    if after is not None:
        statement = statement.where(keyset_after(*after))
    rows = (await session.execute(statement)).all()
    items = [ResponseSummary(**_summary(response, version)) for response, version in rows[:limit]]
    last = rows[limit - 1][0] if len(rows) > limit else None
    return ResponsePage(items=items, next_cursor=encode_cursor(last.started_at, last.id) if last else None)


def _summary(response: Response, version: str | None, sensitive: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A response's row as people see it: sensitive answers masked (storage.sealing)."""
    return {
        "id": response.id, "form_id": response.form_id, "form_version": version, "status": response.status,
        "direction": response.direction, "from_number": response.from_number, "to_number": response.to_number,
        "locale": response.locale, "started_at": as_utc(response.started_at),
        "completed_at": _utc(response.completed_at), "answers": shown_answers(response.answers, sensitive, "mask"),
        "sources": response.sources,
    }


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def answer_entries(form: Form | None, response: Response) -> list[AnswerEntry]:
    """Every field of the form, answered or not, in form order, with whether the form's skip logic asks it of
    this response; then answers to fields the form no longer has. Sensitive answers are masked."""
    sources, times = response.sources, response.answer_times
    answers = open_answers(response.answers) if installed() else response.answers  # the skip logic's values
    shown = shown_answers(response.answers, form.sensitive_names if form is not None else (), "mask")
    provenance = response.provenance if isinstance(response.provenance, dict) else {}
    fields = list(form.fields) if form is not None else []
    titles = {f.name: f.title for f in fields}
    relevance = metrics.relevance_of(metrics.ResponseRecord("", "", answers=answers, sources=sources), fields,
                                     form.relevance if form is not None else None)
    names = [f.name for f in fields] + [name for name in answers if name not in titles]
    entries = []
    for name in names:
        relevant = name in relevance.relevant or name not in titles
        source = _text(sources.get(name))
        heard: dict[str, Any] = provenance[name] if isinstance(provenance.get(name), dict) else {}
        entries.append(AnswerEntry(
            name=name, title=titles.get(name, name), value=shown.get(name), answered=name in answers,
            state=_state(relevant, source), relevant=relevant, required=name in relevance.required, source=source,
            at=_text(times.get(name)), attempt=_text(heard.get("attempt")),
            turn=heard["turn"] if isinstance(heard.get("turn"), int) else None))
    return entries


def _state(relevant: bool, source: str | None) -> AnswerState:
    if not relevant:
        return "not_applicable"
    if source in FINAL_SOURCES:
        return "answered"
    if source == AI_PARTIAL:
        return "partial"
    return "declined" if source == DECLINED else "unanswered"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


async def response_detail(session: AsyncSession, catalog: FormCatalog, response_id: str) -> ResponseDetail | None:
    """One response with everything stored about it and its call's timeline; None if there is none."""
    response = await session.get(Response, response_id)
    if response is None:
        return None
    version = await session.scalar(select(FormVersion.version).where(FormVersion.id == response.form_version_id))
    try:
        form: Form | None = await form_of_version(session, catalog, response.form_id, response.form_version_id)
    except FormError:  # a stored version that no longer parses: the raw answers are still shown
        form = None
    return ResponseDetail(
        **_summary(response, version, form.sensitive_names if form is not None else frozenset()),
        form_title=form.title if form is not None else response.form_id,
        fields=answer_entries(form, response),
        answered_at=_utc(response.answered_at), ended_at=_utc(response.ended_at),
        updated_at=as_utc(response.updated_at), ai_status=response.ai_status, hangup_cause=response.hangup_cause,
        hangup_source=response.hangup_source, keypad_attempts=_listed(masked_attempts(response.keypad_attempts)),
        transcript=_listed(response.message_history), failures=_listed(response.failures),
        timeline=await _timeline(session, response),
    )


def _listed(value: Any) -> list[Any]:
    """A stored list as it is (whatever its entries hold); anything else as no entries."""
    return list(value) if isinstance(value, list) else []


async def _timeline(session: AsyncSession, response: Response) -> list[EventEntry | CommandEntry]:
    """The webhooks of the response (or of its call) and its commands, in the order they were processed."""
    of_call = WebhookEvent.response_id == response.id
    if response.call_control_id:
        of_call = or_(of_call, WebhookEvent.call_control_id == response.call_control_id)
    events = (await session.execute(
        select(WebhookEvent).where(of_call).order_by(WebhookEvent.received_at, WebhookEvent.id))).scalars().all()
    commands = (await session.execute(
        select(Command).where(Command.response_id == response.id).order_by(Command.id))).scalars().all()
    return _merged(events, commands)


def _merged(events: Sequence[WebhookEvent], commands: Iterable[Command]) -> list[EventEntry | CommandEntry]:
    """Events and commands by time; an event comes before the commands it made (they share a timestamp)."""
    entries: list[tuple[tuple[datetime, int, int], EventEntry | CommandEntry]] = []
    for event in events:
        received = as_utc(event.received_at)
        entries.append(((received, 0, 0), EventEntry(
            at=received, id=event.id, type=event.event_type, occurred_at=_utc(event.occurred_at),
            received_at=received, state=event.state, note=event.note)))
    for command in commands:
        created = as_utc(command.created_at)
        entries.append(((created, 1, command.id), CommandEntry(
            at=created, command_id=command.command_id, action=command.action, step=command.step,
            status=command.status, attempts=command.attempts, outcome=command.outcome, created_at=created,
            sent_at=_utc(command.sent_at))))
    entries.sort(key=lambda entry: entry[0])
    return [entry for _key, entry in entries]
