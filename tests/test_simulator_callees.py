"""The fake Telnyx's outbound callees, driven by the real SDK: what each kind of callee makes Telnyx send for
each answering machine detection mode (events, results and hang-up causes as the SDK's types have them)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telnyx import types as tt
from test_simulator import MODELS, Env, Receiver, simulated, types_of, unwrap

from survey_bot.simulator import Scenario

TO = "+15553330000"


MACHINE_MODELS: dict[str, type[Any]] = {
    "call.machine.detection.ended": tt.CallMachineDetectionEndedWebhookEvent,
    "call.machine.greeting.ended": tt.CallMachineGreetingEndedWebhookEvent,
    "call.machine.premium.detection.ended": tt.CallMachinePremiumDetectionEndedWebhookEvent,
    "call.machine.premium.greeting.ended": tt.CallMachinePremiumGreetingEndedWebhookEvent,
}


async def check_every_delivery(receiver: Receiver) -> None:
    """Each delivered body parses strictly as its event's SDK model, and the SDK's unwrap resolves it to it."""
    assert receiver.received
    for raw, headers in receiver.received:
        body = json.loads(raw)
        model = {**MODELS, **MACHINE_MODELS}[body["data"]["event_type"]]
        assert type(model.model_validate(body)) is model
        assert type(await unwrap(raw, headers)) is model


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with simulated() as e:
        yield e


async def dial(env: Env, callee: str, amd: str | None = None, **scenario: Any) -> tuple[str, list[dict[str, Any]]]:
    env.fake.expect_dial(Scenario("outgoing", to_number=TO, callee=callee, greeting_s=0.05, **scenario))  # type: ignore[arg-type]
    extra = {"answering_machine_detection": amd} if amd else {}
    dialed = await env.client.calls.dial(connection_id="c", from_="+15550000000", to=TO, **extra)
    assert dialed.data is not None and dialed.data.call_control_id
    call_id = dialed.data.call_control_id
    await env.fake.wait_idle()
    return call_id, env.receiver.bodies(call_id)


def results(bodies: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(b["data"]["event_type"], b["data"]["payload"].get("result") or b["data"]["payload"].get("hangup_cause"))
            for b in bodies if b["data"]["event_type"] != "call.initiated"]


@pytest.mark.parametrize(("callee", "cause", "sip"), [
    ("busy", "user_busy", "486"), ("no_answer", "no_answer", "480"), ("invalid_number", "not_found", "404")])
async def test_callees_nobody_answers_for_hang_up_with_telnyx_causes(env: Env, callee: str, cause: str,
                                                                      sip: str) -> None:
    _, bodies = await dial(env, callee, "premium")
    assert types_of(bodies) == ["call.initiated", "call.hangup"]
    hangup = bodies[-1]["data"]["payload"]
    assert (hangup["hangup_cause"], hangup["sip_hangup_cause"], hangup["hangup_source"]) == (cause, sip, "callee")
    await check_every_delivery(env.receiver)


PREMIUM = {
    "human": [("call.answered", None), ("call.machine.premium.detection.ended", "human_residence")],
    "machine": [("call.answered", None), ("call.machine.premium.detection.ended", "machine"),
                ("call.machine.premium.greeting.ended", "no_beep_detected")],
    "machine_beep": [("call.answered", None), ("call.machine.premium.detection.ended", "machine"),
                     ("call.machine.premium.greeting.ended", "beep_detected")],
    "fax": [("call.answered", None), ("call.machine.premium.detection.ended", "fax_detected")],
}
GREETING_END = {
    "human": [("call.answered", None), ("call.machine.detection.ended", "human")],
    "machine": [("call.answered", None), ("call.machine.detection.ended", "machine"),
                ("call.machine.greeting.ended", "ended")],
    "machine_beep": [("call.answered", None), ("call.machine.detection.ended", "machine"),
                     ("call.machine.greeting.ended", "beep_detected")],
}


@pytest.mark.parametrize(("mode", "callee", "expected"), [
    *[("premium", callee, events) for callee, events in PREMIUM.items()],
    *[("greeting_end", callee, events) for callee, events in GREETING_END.items()],
    ("detect", "machine_beep", [("call.answered", None), ("call.machine.detection.ended", "machine")]),
    ("detect_beep", "machine", [("call.answered", None), ("call.machine.detection.ended", "machine")]),
    ("detect_beep", "machine_beep", GREETING_END["machine_beep"]),
    (None, "machine_beep", [("call.answered", None)]),
])
async def test_answering_machine_detection_reports_each_callee_per_mode(env: Env, mode: str | None, callee: str,
                                                                        expected: list[tuple[str, Any]]) -> None:
    call_id, bodies = await dial(env, callee, mode)
    assert results(bodies) == expected
    assert all(b["data"]["payload"]["to"] == TO for b in bodies)
    await env.client.calls.actions.hangup(call_id)
    await env.fake.wait_call_done(call_id)
    await check_every_delivery(env.receiver)


async def test_a_machines_greeting_ends_after_its_detection_and_not_once_the_call_is_over(env: Env) -> None:
    env.fake.expect_dial(Scenario("outgoing", to_number=TO, callee="machine_beep", greeting_s=0.4))
    started = time.time()  # before the dial: the greeting's time runs from when the fake took it
    dialed = await env.client.calls.dial(connection_id="c", from_="+15550000000", to=TO,
                                         answering_machine_detection="greeting_end")
    assert dialed.data is not None and dialed.data.call_control_id
    await env.fake.wait_idle()
    assert time.time() - started >= 0.35  # the beep comes later than the detection
    assert types_of(env.receiver.bodies(dialed.data.call_control_id))[-1] == "call.machine.greeting.ended"

    env.fake.expect_dial(Scenario("outgoing", to_number=TO, callee="machine", greeting_s=0.3))
    early = await env.client.calls.dial(connection_id="c", from_="+15550000000", to=TO,
                                        answering_machine_detection="premium")
    assert early.data is not None and early.data.call_control_id
    await env.client.calls.actions.hangup(early.data.call_control_id)  # before the greeting ended
    await env.fake.wait_idle()
    assert "call.machine.premium.greeting.ended" not in types_of(env.receiver.bodies(early.data.call_control_id))


def delivered_at(env: Env, call_id: str) -> dict[str, float]:
    """When each of the call's events was first acknowledged by the app, by event type."""
    times: dict[str, float] = {}
    for attempt in env.fake.deliveries:
        if attempt.call_control_id == call_id and attempt.delivered:
            times.setdefault(attempt.event_type, attempt.at)
    return times


async def test_an_unanswered_phone_rings_for_its_ring_time_before_telnyx_gives_up(env: Env) -> None:
    env.fake.expect_dial(Scenario("outgoing", to_number=TO, callee="no_answer", ring_s=0.4))
    started = time.time()
    dialed = await env.client.calls.dial(connection_id="c", from_="+15550000000", to=TO)
    assert dialed.data is not None and dialed.data.call_control_id
    call_id = dialed.data.call_control_id
    await asyncio.sleep(0.1)
    assert env.fake.call_state(call_id) == "bridging"  # still ringing
    await env.fake.wait_call_done(call_id)
    bodies = env.receiver.bodies(call_id)
    assert types_of(bodies) == ["call.initiated", "call.hangup"]
    assert bodies[-1]["data"]["payload"]["hangup_cause"] == "no_answer"
    times = delivered_at(env, call_id)
    assert times["call.initiated"] - started < 0.3 and times["call.hangup"] - started >= 0.38
    await check_every_delivery(env.receiver)


async def test_a_person_answers_once_the_ring_ends_and_a_busy_line_never_rings(env: Env) -> None:
    env.fake.expect_dial(Scenario("outgoing", to_number=TO, callee="human", ring_s=0.3))
    started = time.time()
    dialed = await env.client.calls.dial(connection_id="c", from_="+15550000000", to=TO,
                                         answering_machine_detection="premium")
    assert dialed.data is not None and dialed.data.call_control_id
    call_id = dialed.data.call_control_id
    await asyncio.sleep(0.1)
    assert env.fake.call_state(call_id) == "bridging"
    await env.fake.wait_idle()
    assert results(env.receiver.bodies(call_id)) == PREMIUM["human"]
    assert delivered_at(env, call_id)["call.answered"] - started >= 0.28
    await env.client.calls.actions.hangup(call_id)
    await env.fake.wait_call_done(call_id)

    started = time.time()
    _, bodies = await dial(env, "busy", "premium", ring_s=5.0)
    assert time.time() - started < 1.0 and results(bodies) == [("call.hangup", "user_busy")]


async def test_hanging_up_while_it_rings_ends_the_call_and_nothing_comes_after(env: Env) -> None:
    env.fake.expect_dial(Scenario("outgoing", to_number=TO, callee="no_answer", ring_s=0.3))
    dialed = await env.client.calls.dial(connection_id="c", from_="+15550000000", to=TO)
    assert dialed.data is not None and dialed.data.call_control_id
    call_id = dialed.data.call_control_id
    await env.client.calls.actions.hangup(call_id)
    await env.fake.wait_idle()  # waits for the ring's end too
    hangups = [b["data"]["payload"] for b in env.receiver.bodies(call_id) if b["data"]["event_type"] == "call.hangup"]
    assert [(h["hangup_cause"], h["hangup_source"]) for h in hangups] == [("normal_clearing", "caller")]
