"""One webhook event, inside the caller's transaction: record it once, update the response, decide the
next commands and put them in the outbox. Committing is the caller's job (see intake.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import store
from .events import Event
from .flow import HANDLERS, Command, next_commands
from .forms import Form, parse_form
from .models import FormVersion, Response

__all__ = ["FormCatalog", "Outcome", "handle_event"]


@dataclass
class FormCatalog:
    """The forms loaded at start, which form answers which number, and every stored version seen."""

    forms: dict[str, Form]
    default_form: str = ""
    _by_version_id: dict[int, Form] = field(default_factory=dict)

    def for_number(self, number: str | None) -> Form | None:
        """The form an inbound call to `number` gets: its x-numbers owner, else the default form."""
        for form in self.forms.values():
            if number and number in form.numbers:
                return form
        return self.forms.get(self.default_form) if self.default_form else None

    async def for_response(self, session: AsyncSession, response: Response) -> Form:
        """The form version the response was started with (it may differ from today's file)."""
        cached = self._by_version_id.get(response.form_version_id)
        if cached is not None:
            return cached
        current = self.forms.get(response.form_id)
        stored = await session.get(FormVersion, response.form_version_id)
        assert stored is not None
        if current is not None and current.version == stored.version:
            form = current
        else:
            form = parse_form(stored.document, stored.form_id, f"<stored version {stored.version[:12]}>")
        self._by_version_id[response.form_version_id] = form
        return form


@dataclass(frozen=True)
class Outcome:
    """What handling an event did, for the HTTP answer and the logs."""

    state: str  # processed | duplicate | ignored
    commands: int = 0
    note: str | None = None


async def handle_event(session: AsyncSession, event: Event, catalog: FormCatalog,
                       now: datetime | None = None) -> Outcome:
    """Process one verified event exactly once; redeliveries change nothing."""
    now = now or datetime.now(UTC)
    if not await store.record_event(session, event, now):
        return Outcome("duplicate")
    response = await store.load_response(
        session, response_id=event.response_id, call_control_id=event.call_control_id
    )
    if response is None and event.event_type == "call.initiated":
        return await _start_inbound(session, event, catalog, now)
    if response is None:
        note = f"event {event.id} ({event.event_type}): no response for this call"
        await store.set_event_outcome(session, event.id, "ignored", note)
        return Outcome("ignored", note=note)
    if event.event_type == "call.initiated":
        _link_call(response, event)
    form = await catalog.for_response(session, response)
    decision = next_commands(event, store.state_of(response), form, now)
    store.apply_state(response, decision.state, now)
    queued = await store.enqueue_commands(
        session, decision.commands, response_id=response.id,
        call_control_id=response.call_control_id or event.call_control_id, event_id=event.id, now=now,
    )
    if event.event_type not in HANDLERS:  # recorded for the timeline; nothing in the flow depends on it
        await store.set_event_outcome(session, event.id, "ignored", "no action for this event type", response.id)
        return Outcome("ignored")
    await store.set_event_outcome(session, event.id, "processed", response_id=response.id)
    return Outcome("processed", len(queued))


async def _start_inbound(session: AsyncSession, event: Event, catalog: FormCatalog, now: datetime) -> Outcome:
    payload = event.payload
    if payload.get("direction") != "incoming":
        note = f"event {event.id}: outgoing call.initiated for a call survey-bot did not dial"
        await store.set_event_outcome(session, event.id, "ignored", note)
        return Outcome("ignored", note=note)
    to_number = _text(payload.get("to"))
    form = catalog.for_number(to_number)
    if form is None:
        note = f"no form answers {to_number or 'an unknown number'} and SURVEY_BOT_DEFAULT_FORM is not set: rejected"
        reject = Command("reject", {"cause": "CALL_REJECTED"}, "reject")
        queued = await store.enqueue_commands(session, [reject], response_id=None,
                                              call_control_id=event.call_control_id, event_id=event.id, now=now)
        await store.set_event_outcome(session, event.id, "processed", note)
        return Outcome("processed", len(queued), note)
    existing = await session.scalar(select(Response.id).where(Response.call_control_id == event.call_control_id))
    if existing is not None:  # a second call.initiated (new event id) for a call we already answer
        await store.set_event_outcome(session, event.id, "ignored", "call already has a response", existing)
        return Outcome("ignored")
    response = await store.create_response(
        session, form, direction="incoming", now=now, call_control_id=event.call_control_id,
        call_session_id=_text(payload.get("call_session_id")), call_leg_id=_text(payload.get("call_leg_id")),
        from_number=_text(payload.get("from")), to_number=to_number,
    )
    decision = next_commands(event, store.state_of(response), form, now)
    store.apply_state(response, decision.state, now)
    queued = await store.enqueue_commands(session, decision.commands, response_id=response.id,
                                          call_control_id=event.call_control_id, event_id=event.id, now=now)
    await store.set_event_outcome(session, event.id, "processed", response_id=response.id)
    return Outcome("processed", len(queued))


def _link_call(response: Response, event: Event) -> None:
    """An outbound call's first webhook: remember Telnyx's ids for the response we dialled."""
    payload = event.payload
    response.call_control_id = response.call_control_id or event.call_control_id
    response.call_session_id = response.call_session_id or _text(payload.get("call_session_id"))
    response.call_leg_id = response.call_leg_id or _text(payload.get("call_leg_id"))


def _text(value: object) -> str | None:
    return str(value)[:255] if isinstance(value, str) and value else None
