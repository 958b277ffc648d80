"""The simulator behind the dashboard's "try it": sample callers for a form, rung into the app from the fake Telnyx."""

from __future__ import annotations

import json
from typing import Any

from survey_bot.forms.model import Form
from survey_bot.forms.validation import nest
from survey_bot.sandbox.examples import example_document, question, rescued_field, samples
from survey_bot.sandbox.expectations import Mismatch
from survey_bot.sandbox.scenario_file import load_scenario_document, parse_scenario
from survey_bot.sandbox.simulate import play_call
from survey_bot.sandbox.stack import Stack
from survey_bot.simulator import AIStep, Delivery, KeypadEntry, KeypadTimeout, Scenario
from survey_bot.web.live import show_value
from survey_bot.web.state import state
from survey_bot.web.try_it import PlayedCall, TryItStatus, TryItUnavailable, attach

__all__ = ["MAX_CALLS", "SimulatorTryIt", "attach_simulator", "sample_scenario"]

MAX_CALLS = 10  # a scenario played from the dashboard (the page waits for them)


class SimulatorTryIt:
    """Calls from `fake` into `app` (the fake must sign webhooks with the app's trusted key)."""

    def __init__(self, stack: Stack) -> None:
        self.stack, self.app, self.fake = stack, stack.app, stack.fake

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


    def example(self, form_id: str) -> str:
        """The calls `survey-bot simulate --example` starts from (no expectations: the results page shows all)."""
        form = state(self.app).catalog.forms.get(form_id)
        if form is None:
            raise TryItUnavailable(f"The form {form_id!r} is not loaded on this server.")
        return json.dumps(example_document(form), indent=2, ensure_ascii=False)

    async def play(self, form_id: str, text: str, source: str) -> list[PlayedCall]:
        """Check the scenario, then play its calls one after another on this simulator."""
        catalog = state(self.app).catalog
        data = parse_scenario(text, source, yaml_text=not text.lstrip().startswith("{"))
        loaded = load_scenario_document(data, source, catalog.forms)
        if loaded.campaign is not None:
            raise TryItUnavailable("This scenario describes a campaign, which runs for a while on the scheduler: play "
                                   "it with `survey-bot simulate FILE`. Here, give `calls` only.")
        if loaded.form_id != form_id:
            raise TryItUnavailable(f"The scenario is for {loaded.form_id!r}, not {form_id!r}.")
        if len(loaded.calls) > MAX_CALLS:
            raise TryItUnavailable(f"Play at most {MAX_CALLS} calls here; `survey-bot simulate` plays any number.")
        for call in loaded.calls:
            if not call.outbound and catalog.for_number(call.scenario.to_number) is not catalog.forms[form_id]:
                raise TryItUnavailable(f"{call.name!r}: calls to {call.scenario.to_number} reach another form.")
        played = []
        for call in loaded.calls:
            outcome = await play_call(self.stack, source, form_id, call, check=True)
            played.append(PlayedCall(outcome.name, outcome.response_id, outcome.status, outcome.answers,
                                     outcome.error, outcome.checked, [_difference(m) for m in outcome.mismatches]))
        return played


def _difference(mismatch: Mismatch) -> str:
    return f"{mismatch.key}: expected {json.dumps(mismatch.expected)}, got {json.dumps(mismatch.got)}"


def attach_simulator(stack: Stack) -> None:
    """Let the stack's dashboard place calls on its simulator (which signs webhooks with the app's trusted key)."""
    attach(stack.app, SimulatorTryIt(stack))


def sample_scenario(form: Form, to_number: str, delay_s: float = 0.5) -> Scenario:
    """A caller who answers the AI one question at a time and types the last keypad-able answer instead."""
    found = samples(form)
    rescued = rescued_field(form, found)
    heard: dict[str, Any] = {}
    steps = []
    for f in form.fields:
        if f.name in found and f.name != rescued:
            heard[f.name] = found[f.name][0]
            steps.append(AIStep(nest(heard), question(f), show_value(found[f.name][0])))
    if rescued is not None:
        steps.append(AIStep(nest(heard), question(form.field(rescued)), "Can I type that on the keypad instead?"))
    queue = [f for f in form.fields if f.keypad is not None and f.name not in heard]
    keypad: list[KeypadEntry] = []
    for f in queue:
        digits = found[f.name][1] if f.name in found else None
        keypad.append(digits or KeypadTimeout())
    return Scenario(from_number="+15557770100", to_number=to_number, ai_steps=steps, ai_status="valid",
                    ai_result=nest(heard), keypad=keypad, delivery=Delivery(delay_s=delay_s))
