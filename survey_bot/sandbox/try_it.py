"""The simulator behind the dashboard's "try it": sample callers for a form, rung into the app from the fake Telnyx."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from quart import Quart

from survey_bot.errors import DigitsError
from survey_bot.forms.answers import nest, validate_field
from survey_bot.forms.digits import parse_digits
from survey_bot.forms.model import Field, Form
from survey_bot.simulator import AIStep, Delivery, FakeTelnyx, KeypadEntry, KeypadTimeout, Scenario
from survey_bot.web.live import show_value
from survey_bot.web.state import state
from survey_bot.web.try_it import TryItStatus, TryItUnavailable, attach

__all__ = ["SimulatorTryIt", "attach_simulator", "sample_scenario"]


class SimulatorTryIt:
    """Calls from `fake` into `app` (the fake must sign webhooks with the app's trusted key)."""

    def __init__(self, app: Quart, fake: FakeTelnyx) -> None:
        self.app, self.fake = app, fake

    def status(self) -> TryItStatus:
        """Ready unless the app would refuse the fake's webhooks."""
        if self.fake.signer.public_key_b64 != state(self.app).settings.telnyx_public_key:
            return TryItStatus(False, "The attached simulator signs webhooks with a key this server does not "
                                      "trust (TELNYX_PUBLIC_KEY differs), so its calls would be refused.")
        return TryItStatus(True)

    async def start_call(self, form_id: str) -> str:
        """Ring the app with a sample caller for `form_id`; return the call id."""
        catalog = state(self.app).catalog
        form = catalog.forms.get(form_id)
        if form is None:
            raise TryItUnavailable(f"The form {form_id!r} is not loaded on this server.")
        if form.numbers:
            number = form.numbers[0]
        elif catalog.default_form == form_id:
            number = "+15550109999"
        else:
            raise TryItUnavailable(f"No number reaches {form_id!r}: give it x-numbers or make it the default form.")
        if catalog.for_number(number) is not form:
            raise TryItUnavailable(f"Calls to {number} reach another form, not {form_id!r}.")
        delay = float(self.app.config.get("DASHBOARD_SIMULATOR_DELAY_S", 0.5))
        return self.fake.start_call(sample_scenario(form, number, delay))


def attach_simulator(app: Quart, fake: FakeTelnyx) -> None:
    """Let the dashboard start calls on `fake` (which must sign webhooks with the app's trusted key)."""
    attach(app, SimulatorTryIt(app, fake))


def _digit_candidates(field: Field) -> list[str]:
    keypad = field.keypad
    if keypad is None:
        return []
    if keypad.kind in ("menu", "boolean"):
        return sorted(keypad.choices)
    if keypad.kind == "date":
        return [datetime.now(UTC).strftime("%Y%m%d"), "20260115"]
    if keypad.kind == "time":
        return ["0930", "1400"]
    return [d * n + keypad.terminator for n in range(keypad.min_digits, keypad.max_digits + 1) for d in "7315"]


def _value_candidates(schema: Mapping[str, Any]) -> list[Any]:
    items = schema.get("items")
    item_enum = items.get("enum") if isinstance(items, Mapping) else None
    return [*schema.get("examples", []), *schema.get("enum", [])[:1], "Sam Sample from the simulator",
            [*(item_enum or ["sample"])][:1], True, 1]


def _sample(field: Field) -> tuple[Any, str | None] | None:
    """A valid answer for `field`, with the keypad digits that give it when it has a keypad."""
    for digits in _digit_candidates(field):
        try:
            return parse_digits(field, digits), digits
        except (DigitsError, ValueError):
            continue
    return next(((v, None) for v in _value_candidates(field.schema) if validate_field(field, v) is None), None)


def _question(field: Field) -> str:
    return field.prompt if field.prompt.endswith("?") else f"And your {field.title.lower()}?"


def sample_scenario(form: Form, to_number: str, delay_s: float = 0.5) -> Scenario:
    """A caller who answers the AI one question at a time and types the last keypad-able answer instead."""
    samples = {f.name: s for f in form.fields if (s := _sample(f)) is not None}
    keyed = [f.name for f in form.fields if f.name in samples and samples[f.name][1] is not None]
    rescued = next((n for n in reversed(keyed) if form.field(n).required), keyed[-1] if keyed else None)
    heard: dict[str, Any] = {}
    steps = []
    for f in form.fields:
        if f.name in samples and f.name != rescued:
            heard[f.name] = samples[f.name][0]
            steps.append(AIStep(nest(heard), _question(f), show_value(samples[f.name][0])))
    if rescued is not None:
        steps.append(AIStep(nest(heard), _question(form.field(rescued)), "Can I type that on the keypad instead?"))
    queue = [f for f in form.fields if f.keypad is not None and f.name not in heard]
    keypad: list[KeypadEntry] = []
    for f in queue:
        digits = samples[f.name][1] if f.name in samples else None
        keypad.append(digits or KeypadTimeout())
    return Scenario(from_number="+15557770100", to_number=to_number, ai_steps=steps, ai_status="valid",
                    ai_result=nest(heard), keypad=keypad, delivery=Delivery(delay_s=delay_s))
