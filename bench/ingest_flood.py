"""Plan bench/ingest.py's flood: realistic, distinct Telnyx webhooks for calls in progress, and what each makes due.

Every call plays one conversation: the voice AI's exchanges (message_history_updated per message, partial_results
per exchange), its end, the keypad questions the flow then asks (DTMF digits and gather.ended), the closing words
and the hangup. The planner runs survey-bot's own pure flow (`next_commands`) over the same bodies, so it knows
the client_state Telnyx would echo on each event, which commands every event makes due, and the state a call
should be left in. `slots` calls are in progress at once: round-robin, so one call's events are `slots` apart
in the stream; a call that ends hands its slot to the next one.
"""

from __future__ import annotations

import dataclasses
import json
import random
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from survey_bot.errors import DigitsError
from survey_bot.flow.decide import next_commands
from survey_bot.flow.state import CallState, Command
from survey_bot.forms.answers import validate_field
from survey_bot.forms.digits import parse_digits
from survey_bot.forms.model import Field, Form
from survey_bot.forms.validation import nest
from survey_bot.simulator.calls import Call, new_call
from survey_bot.simulator.scenario import Scenario
from survey_bot.storage.outbox import command_id_for
from survey_bot.telephony.envelope import encode_client_state, parse_event

__all__ = ["OpenCall", "Planned", "dummy_calls", "fingerprint", "mean_events_per_call", "plan_flood"]

Script = Generator[tuple[str, dict[str, Any]], list[Command], None]
WORDS = ("well", "I think", "probably", "the delivery", "was", "fine", "honestly", "maybe", "a bit", "slow",
         "great", "support", "helped", "quickly", "price", "could be", "better", "yes", "no", "sure")


@dataclass
class OpenCall:
    """A call the fake knows and the app answers: the fake's call record, its response and its state."""

    call: Call
    response_id: str
    state: CallState


@dataclass(frozen=True)
class Planned:
    """One webhook of the flood: its body, which commands it makes due, and the call's state after it."""

    event_id: str
    call_control_id: str
    response_id: str
    event_type: str
    body: bytes
    commands: tuple[str, ...]
    after: str  # fingerprint() of the call's state once this event is processed


def fingerprint(status: str, answers: dict[str, Any], history: list[Any]) -> str:
    """What the bench compares between its plan and the database: status, answers, transcript length."""
    return json.dumps([status, answers, len(history)], sort_keys=True, default=str)


def _value(field: Field, rng: random.Random) -> Any:
    """A valid answer the voice AI might report for `field`."""
    schema = field.schema
    kind = schema.get("type")
    if "enum" in schema:
        value: Any = rng.choice(schema["enum"])
    elif kind == "integer":
        value = rng.randint(int(schema.get("minimum", 0)), int(schema.get("maximum", 10)))
    elif kind == "boolean":
        value = rng.random() < 0.5
    elif kind == "array":
        choices = list(schema.get("items", {}).get("enum", ["x"]))
        value = rng.sample(choices, rng.randint(0, min(2, len(choices))))
    else:
        value = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
    return value if validate_field(field, value) is None else None


def _digits(field: Field) -> str:
    """Keypad digits the field accepts (Telnyx may or may not include the terminating '#': both are sent)."""
    for candidate in ("1", "5", "1#", "5#", "2", "12#", "1234#"):
        try:
            parse_digits(field, candidate)
        except DigitsError:
            continue
        return candidate
    raise ValueError(f"no simple digits answer {field.name}")


def _conversation(form: Form, rng: random.Random) -> Script:
    """One call's webhooks in order; each `yield` gets back the commands that event made due."""
    values = {f.name: _value(f, rng) for f in form.fields}
    values = {name: value for name, value in values.items() if value is not None}
    history: list[dict[str, str]] = []
    revealed: dict[str, Any] = {}
    names = list(values)
    for turn in range(rng.randint(4, 10)):
        history.append({"role": "assistant", "content": f"Question {turn + 1}: " + _sentence(rng)})
        yield "call.ai_gather.message_history_updated", {"message_history": list(history)}
        history.append({"role": "user", "content": _sentence(rng)})
        yield "call.ai_gather.message_history_updated", {"message_history": list(history)}
        if turn < len(names):
            revealed[names[turn]] = values[names[turn]]
        yield "call.ai_gather.partial_results", {"partial_results": nest(revealed), "message_history": list(history)}
    keypad = [f.name for f in form.fields if f.keypad is not None]
    missed = set(rng.sample(keypad, rng.choice((0, 1, 1, 2, 3)))) if keypad else set()
    result = nest({n: v for n, v in values.items() if n not in missed})
    commands = yield "call.ai_gather.ended", {"result": result, "status": "valid", "message_history": history}
    yield "call.conversation.ended", {"calling_party_type": "pstn", "duration_sec": 5 * len(history) // 2,
                                      "reason": None, "messages": history}
    while commands and commands[-1].action == "ask_keypad":
        field = form.field(str(commands[-1].context["f"]))
        digits = _digits(field)
        for digit in digits:
            yield "call.dtmf.received", {"digit": digit}
        commands = yield "call.gather.ended", {"digits": digits, "status": "valid"}
    if commands and commands[-1].action == "speak":
        yield "call.speak.started", {}
        yield "call.speak.ended", {"status": "completed"}
    yield "call.hangup", {"state": "hangup", "hangup_cause": "normal_clearing", "hangup_source": "callee",
                          "sip_hangup_cause": "unspecified", "tags": []}


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16))).capitalize() + "."


class _Player:
    """Plays one call's conversation through the flow, as the app will."""

    def __init__(self, open_call: OpenCall, form: Form, rng: random.Random, delivered_to: str) -> None:
        self.call = dataclasses.replace(open_call.call)  # the fake's record stays as the fake left it
        self.response_id = open_call.response_id
        self.state = open_call.state
        self.form = form
        self.script = _conversation(form, rng)
        self.delivered_to = delivered_to
        self.made: set[str] = set()
        self.pending: tuple[str, dict[str, Any]] | None = next(self.script)
        self.resting = 0  # rounds left listening to what the last command said
        self.last_at = -(10**9)  # the flood position of its last webhook

    def play(self) -> Planned:
        """Build the next webhook and apply it (only while `pending` is set)."""
        assert self.pending is not None
        event_type, extras = self.pending
        body = self.call.event(event_type, extras)
        body["meta"] = {"attempt": 1, "delivered_to": self.delivered_to}
        raw = json.dumps(body, separators=(",", ":"))
        event = parse_event(raw)
        decision = next_commands(event, self.state, self.form, datetime.now(UTC))
        self.state = decision.state
        made = []
        for command in decision.commands:  # the outbox takes a call's step once
            command_id = command_id_for(self.response_id, command.step)
            if command_id not in self.made:
                self.made.add(command_id)
                made.append(command_id)
        if decision.commands:  # Telnyx echoes the newest command's client_state on later webhooks
            self.call.client_state = encode_client_state(decision.commands[-1].context)
        try:
            self.pending = self.script.send(decision.commands)
        except StopIteration:
            self.pending = None
        after = fingerprint(self.state.status, self.state.answers, self.state.message_history)
        return Planned(event.id, self.call.call_control_id, self.response_id, event_type, raw.encode(),
                       tuple(made), after)


def plan_flood(calls: Iterator[OpenCall], form: Form, *, slots: int, total: int, seed: int,
               delivered_to: str, rest_rounds: int = 0, min_gap: int = 0) -> list[Planned]:
    """Plan `total` webhooks (fewer if `calls` runs out) over `slots` calls in progress at once.

    A call that made commands sits out `rest_rounds` rounds before its next webhook, as a caller hears a
    prompt out before keying: the flood does not wait for the commands, so without a pause a dispatcher
    running behind at saturation meets callers who already answered, or hung up. One call's webhooks are at
    least `min_gap` apart in the flood (give the connection count: closer ones can be in flight at once,
    and then no order between them is defined; rounds shortened by resting calls had let that happen).
    """
    rng = random.Random(seed)
    players = [_Player(c, form, rng, delivered_to) for c in _take(calls, slots)]
    planned: list[Planned] = []
    while players and len(planned) < total:
        still: list[_Player] = []
        progressed = False
        for player in players:
            if player.resting or len(planned) >= total:
                player.resting = max(0, player.resting - 1)
                still.append(player)
                progressed = True
                continue
            if len(planned) - player.last_at < min_gap:  # too close to its previous webhook: next round
                still.append(player)
                continue
            progressed = True
            player.last_at = len(planned)
            planned.append(player.play())
            player.resting = rest_rounds if planned[-1].commands else 0
            if player.pending is not None:
                still.append(player)
            elif (fresh := next(calls, None)) is not None:  # the call is over: the next one takes its slot
                still.append(_Player(fresh, form, rng, delivered_to))
        players = still
        if not progressed:  # too few calls left to keep them min_gap apart
            break
    return planned


def _take(calls: Iterator[OpenCall], n: int) -> list[OpenCall]:
    return [c for _, c in zip(range(n), calls, strict=False)]


def dummy_calls(form: Form, connection_id: str = "bench") -> Iterator[OpenCall]:
    """Calls nobody opened (for the bare ceiling's bodies and for sizing): random ids, freshly answered state."""
    while True:
        call = new_call(Scenario(to_number=form.numbers[0] if form.numbers else "+15550002222"),
                        connection_id=connection_id, direction="incoming", from_number="+15550001111",
                        to_number=form.numbers[0] if form.numbers else "+15550002222")
        call.state = "answered"
        response_id = str(uuid.uuid4())
        yield OpenCall(call, response_id, CallState(response_id=response_id, direction="incoming",
                                                    answered_at=datetime.now(UTC)))


def mean_events_per_call(form: Form, calls: int = 200, seed: int = 1) -> float:
    """How many webhooks one call's conversation sends, on average (to size the pool of calls)."""
    source = iter(list(_take(dummy_calls(form), calls)))
    planned = plan_flood(source, form, slots=calls, total=10**9, seed=seed, delivered_to="http://127.0.0.1/")
    return len(planned) / calls
