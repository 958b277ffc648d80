"""The Telnyx simulator, driven by the real SDK over HTTP, delivering signed webhooks to a recording app."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import telnyx
from quart import Quart, request
from telnyx import types as tt

from survey_bot.serving.embedded import serve_asgi
from survey_bot.simulator import (
    AIStep,
    Delivery,
    FakeTelnyx,
    KeypadHangup,
    KeypadInvalid,
    KeypadTimeout,
    RetryPolicy,
    Scenario,
    WebhookSigner,
)

DATA = Path(__file__).parent / "data" / "telnyx"
REQUEST_SCHEMAS = json.loads((DATA / "requests.json").read_text())
FAST = RetryPolicy(max_attempts=4, first_backoff_s=0.02, max_backoff_s=0.1, ack_timeout_s=0.5)
SEED = bytes(range(32))

MODELS: dict[str, type[Any]] = {
    "call.initiated": tt.CallInitiatedWebhookEvent,
    "call.answered": tt.CallAnsweredWebhookEvent,
    "call.hangup": tt.CallHangupWebhookEvent,
    "call.speak.started": tt.CallSpeakStartedWebhookEvent,
    "call.speak.ended": tt.CallSpeakEndedWebhookEvent,
    "call.dtmf.received": tt.CallDtmfReceivedWebhookEvent,
    "call.gather.ended": tt.CallGatherEndedWebhookEvent,
    "call.ai_gather.partial_results": tt.CallAIGatherPartialResultsWebhookEvent,
    "call.ai_gather.message_history_updated": tt.CallAIGatherMessageHistoryUpdatedWebhookEvent,
    "call.ai_gather.ended": tt.CallAIGatherEndedWebhookEvent,
    "call.conversation.ended": tt.CallConversationEndedWebhookEvent,
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Receiver:
    """The app under test, reduced to a recorder: keeps each delivery's raw bytes and headers."""

    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many deliveries first
    stall_first: int = 0  # and/or take longer than Telnyx's ack timeout on this many
    stall_s: float = 1.0

    def app(self) -> Quart:
        app = Quart(__name__)

        @app.post("/webhooks/telnyx")
        async def webhook() -> tuple[str, int]:
            self.received.append((await request.get_data(as_text=False), dict(request.headers)))
            if self.stall_first > 0:
                self.stall_first -= 1
                await asyncio.sleep(self.stall_s)
            if self.fail_first > 0:
                self.fail_first -= 1
                return "nope", 500
            return "", 200

        return app

    def bodies(self, call_control_id: str | None = None) -> list[dict[str, Any]]:
        out = [json.loads(raw) for raw, _ in self.received]
        return [b for b in out if call_control_id in (None, b["data"]["payload"]["call_control_id"])]


@dataclass
class Env:
    fake: FakeTelnyx
    client: telnyx.AsyncTelnyx
    receiver: Receiver
    telnyx_url: str


@contextlib.asynccontextmanager
async def simulated(policy: RetryPolicy = FAST, **client_options: Any) -> AsyncIterator[Env]:
    receiver = Receiver()
    fake = FakeTelnyx(signer=WebhookSigner.from_seed(SEED), retry_policy=policy)
    async with serve_asgi(receiver.app()) as app_url, serve_asgi(fake.app) as telnyx_url:
        fake.webhook_url = f"{app_url}/webhooks/telnyx"
        options = {"max_retries": 2, **client_options}
        async with telnyx.AsyncTelnyx(api_key="KEY_test", base_url=telnyx_url, **options) as client:
            yield Env(fake, client, receiver, telnyx_url)
        await fake.wait_idle(timeout=10)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with simulated() as e:
        yield e


async def unwrap(body: bytes, headers: dict[str, str]) -> Any:
    """Verify and parse with the SDK (sync, or async once anything imported telnyx.lib)."""
    client = telnyx.AsyncTelnyx(api_key="KEY_test", public_key=WebhookSigner.from_seed(SEED).public_key_b64)
    result = client.webhooks.unwrap(body.decode(), headers=headers)
    if inspect.isawaitable(result):
        result = await result
    await client.close()
    return result


async def check_every_delivery(receiver: Receiver) -> None:
    """Each delivered body verifies with the SDK and parses as exactly its event's model."""
    assert receiver.received
    for raw, headers in receiver.received:
        assert headers["User-Agent"] == "telnyx-webhooks"
        assert headers["Content-Type"] == "application/json"
        body = json.loads(raw)
        event_type = body["data"]["event_type"]
        model = MODELS[event_type]
        parsed = model.model_validate(body)
        assert type(parsed) is model and parsed.data.event_type == event_type
        unwrapped = await unwrap(raw, headers)
        assert type(unwrapped) is model, (event_type, type(unwrapped))


def check_requests_against_spec(fake: FakeTelnyx) -> None:
    """Every body the SDK sent (and the fake accepted) validates against Telnyx's published schema."""
    for received in fake.requests:
        if received.status_code == 200:
            jsonschema.validate(received.body, REQUEST_SCHEMAS[received.action]["request"])


def types_of(bodies: list[dict[str, Any]]) -> list[str]:
    return [b["data"]["event_type"] for b in bodies]


# --- signing ---------------------------------------------------------------------------------------


async def test_signer_headers_verify_with_the_sdk() -> None:
    signer = WebhookSigner.from_seed(SEED)
    raw = (DATA / "examples" / "call.answered.json").read_bytes()
    headers = signer.headers(raw)
    assert set(headers) == {"Content-Type", "User-Agent", "telnyx-signature-ed25519", "telnyx-timestamp"}
    assert abs(int(headers["telnyx-timestamp"]) - time.time()) < 5
    assert type(await unwrap(raw, headers)) is tt.CallAnsweredWebhookEvent
    with pytest.raises(Exception, match=r"(?i)signature"):
        await unwrap(raw.replace(b"answered", b"answerex"), headers)
    assert len(base64.b64decode(signer.public_key_b64)) == 32
    assert WebhookSigner.from_seed(SEED).public_key_b64 == signer.public_key_b64
    assert WebhookSigner.generate().public_key_b64 != signer.public_key_b64
    assert signer.headers(b"{}", timestamp=1)["telnyx-timestamp"] == "1"
    with pytest.raises(ValueError):
        WebhookSigner.from_seed(b"short")


# --- the API -------------------------------------------------------------------------------------


async def test_every_action_is_accepted_and_answered_in_telnyx_shape(env: Env) -> None:
    actions = env.client.calls.actions
    scenario = Scenario(ai_steps=[AIStep({"age": 29}, "How old are you?", "29")], keypad=["4#", "5"])
    call = env.fake.start_call(scenario)
    assert call.startswith("v3:") and len(call) > 40
    assert (await actions.answer(call, client_state=b64("a"))).data.result == "ok"
    assert (await actions.speak(call, payload="Hello", voice="Telnyx.KokoroTTS.af")).data.result == "ok"
    ai = await actions.gather_using_ai(call, parameters={"type": "object", "properties": {"age": {"type": "integer"}}})
    assert ai.data.result == "ok" and ai.data.conversation_id
    spoken = await actions.gather_using_speak(call, payload="Press 1 to 5", voice="AWS.Polly.Joanna", language="en-US")
    assert spoken.data.result == "ok"
    assert (await actions.gather(call, maximum_digits=2)).data.result == "ok"
    assert (await actions.stop_gather(call)).data.result == "ok"
    assert (await actions.update_client_state(call, client_state=b64("z"))).data.result == "ok"
    assert (await actions.hangup(call)).data.result == "ok"

    other = env.fake.start_call(Scenario())
    assert (await actions.reject(other, cause="USER_BUSY")).data.result == "ok"

    env.fake.expect_dial(Scenario("outgoing", to_number="+15557770000"))
    dialed = await env.client.calls.dial(connection_id="c-1", from_="+15550001111", to="+15557770000")
    assert dialed.data is not None and dialed.data.call_control_id and dialed.data.is_alive is False
    assert dialed.data.record_type == "call" and dialed.data.call_leg_id and dialed.data.call_session_id

    await env.fake.wait_idle(timeout=10)
    actions_seen = [r.action for r in env.fake.accepted()]
    assert actions_seen == [
        *["answer", "speak", "gather_using_ai", "gather_using_speak", "gather", "gather_stop"],
        *["client_state_update", "hangup", "reject", "dial"],
    ]
    assert env.fake.requests[-1].body["from"] == "+15550001111"  # `from_` is "from" on the wire
    check_requests_against_spec(env.fake)
    await check_every_delivery(env.receiver)


async def test_a_bad_body_gets_a_telnyx_shaped_422(env: Env) -> None:
    call = env.fake.start_call(Scenario())
    await env.client.calls.actions.answer(call)
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        await env.client.calls.actions.gather_using_speak(call, payload="x", voice="female", language="xx-XX")
    (error,) = caught.value.body["errors"]
    assert error["code"] == "10015" and error["title"] == "Invalid parameter"
    assert error["source"] == {"pointer": "/language"} and "xx-XX" not in error["code"]

    async with httpx.AsyncClient(base_url=env.telnyx_url, headers={"Authorization": "Bearer KEY_test"}) as http:
        missing = await http.post(f"/calls/{call}/actions/gather_using_speak", json={"payload": "x"})
        assert missing.status_code == 422
        assert [e["source"]["pointer"] for e in missing.json()["errors"]] == ["/voice"]
        wrong_type = await http.post(
            f"/calls/{call}/actions/gather_using_speak",
            json={"payload": "x", "voice": "v", "maximum_digits": "3"},
        )
        assert wrong_type.json()["errors"][0]["source"]["pointer"] == "/maximum_digits"
        not_base64 = await http.post(
            f"/calls/{call}/actions/speak", json={"payload": "x", "voice": "v", "client_state": "{}"}
        )
        assert not_base64.json()["errors"][0]["source"]["pointer"] == "/client_state"
        bad_dial = await http.post("/calls", json={"connection_id": "c", "to": "+1"})
        assert bad_dial.json()["errors"][0]["source"]["pointer"] == "/from"
        unknown = await http.post("/calls/v3:nope/actions/answer", json={})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "90015"
        unsupported = await http.post(f"/calls/{call}/actions/transfer", json={})
        assert unsupported.status_code == 404 and unsupported.json()["errors"][0]["code"]
        anonymous = await http.post(f"/calls/{call}/actions/hangup", json={}, headers={"Authorization": ""})
        assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["title"]
    assert env.fake.call_state(call) == "answered"  # none of the refused commands acted
    assert all(r.status_code >= 400 for r in env.fake.requests[1:])


async def test_media_commands_wait_for_an_answered_call(env: Env) -> None:
    call = env.fake.start_call(Scenario())
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        await env.client.calls.actions.speak(call, payload="x", voice="female", service_level="basic")
    assert caught.value.body["errors"][0]["code"] == "90034"


async def test_429_with_retry_after_then_success_through_the_sdk_retry(env: Env) -> None:
    call = env.fake.start_call(Scenario())
    env.fake.fail_next(1, 429, retry_after=0.3)
    started = time.monotonic()
    assert (await env.client.calls.actions.answer(call)).data.result == "ok"
    assert time.monotonic() - started >= 0.3
    assert [r.status_code for r in env.fake.requests] == [429, 200]
    assert env.fake.call_state(call) == "answered"


async def test_500_three_times_ends_in_internal_server_error(env: Env) -> None:
    call = env.fake.start_call(Scenario())
    env.fake.fail_next(3, 500)
    with pytest.raises(telnyx.InternalServerError) as caught:
        await env.client.calls.actions.answer(call)
    assert caught.value.body["errors"][0]["code"] == "10007"
    assert [r.status_code for r in env.fake.requests] == [500, 500, 500]
    assert env.fake.call_state(call) == "parked" and env.fake.accepted() == []


async def test_down_answers_503_until_back(env: Env) -> None:
    call = env.fake.start_call(Scenario())
    env.fake.down = True
    with pytest.raises(telnyx.InternalServerError) as caught:
        await env.client.with_options(max_retries=0).calls.actions.answer(call)
    assert caught.value.status_code == 503
    env.fake.down = False
    await env.client.calls.actions.answer(call)


async def test_a_command_after_hangup_is_422_90018(env: Env) -> None:
    call = env.fake.start_call(Scenario())
    await env.client.calls.actions.answer(call)
    await env.client.calls.actions.hangup(call)
    with pytest.raises(telnyx.UnprocessableEntityError) as caught:
        await env.client.calls.actions.speak(call, payload="x", voice="female", service_level="basic")
    assert caught.value.body["errors"][0]["code"] == "90018"
    assert caught.value.body["errors"][0]["title"] == "Call has already ended"
    assert len(env.fake.requests) == 3  # a 422 is not retried


async def test_a_repeated_command_id_is_answered_ok_and_does_nothing(env: Env) -> None:
    call = env.fake.start_call(Scenario())
    await env.client.calls.actions.answer(call, command_id="answer-1")
    again = await env.client.calls.actions.answer(call, command_id="answer-1")
    assert again.data.result == "ok"
    await env.client.calls.actions.speak(call, payload="a", voice="female", service_level="basic", command_id="s")
    await env.client.calls.actions.speak(call, payload="a", voice="female", service_level="basic", command_id="s")
    await env.client.calls.actions.hangup(call, command_id="bye")
    assert (await env.client.calls.actions.hangup(call, command_id="bye")).data.result == "ok"
    await env.fake.wait_call_done(call, timeout=5)
    assert [r.duplicate for r in env.fake.requests] == [False, True, False, True, False, True]
    assert types_of(env.fake.events_emitted(call)) == [
        *["call.initiated", "call.answered", "call.speak.started", "call.speak.ended", "call.hangup"],
    ]


async def test_a_late_answer_times_the_sdk_out_and_its_retry_is_a_duplicate() -> None:
    async with simulated(timeout=0.3) as env:
        call = env.fake.start_call(Scenario())
        env.fake.delay_next(1, 1.0)
        await env.client.calls.actions.answer(call, command_id="once")
        assert [(r.status_code, r.duplicate) for r in env.fake.requests] == [(200, False), (200, True)]
        await env.fake.wait_idle(timeout=5)
        assert types_of(env.fake.events_emitted(call)) == ["call.initiated", "call.answered"]


# --- calls ---------------------------------------------------------------------------------------


async def test_an_inbound_survey_plays_out_with_client_state_echoed(env: Env) -> None:
    steps = [
        AIStep({"age": 29}, "Hi, this is the Acme survey. How old are you?", "I'm 29."),
        AIStep({"age": 29, "satisfaction": 4}, "And how satisfied are you, from 1 to 5?", "A four."),
    ]
    call = env.fake.start_call(Scenario(ai_steps=steps, keypad=["42#", KeypadTimeout(), "7"]))
    actions = env.client.calls.actions
    await actions.answer(call, client_state=b64("answered"))
    await actions.gather_using_ai(
        call,
        parameters={"type": "object", "properties": {"age": {"type": "integer"}}},
        send_partial_results=True,
        send_message_history_updates=True,
        client_state=b64("ai"),
    )
    for _ in range(3):
        await actions.gather_using_speak(call, payload="Your zip?", voice="female", service_level="basic")
    await actions.hangup(call, client_state=b64("bye"))
    await env.fake.wait_call_done(call, timeout=10)

    emitted = env.fake.events_emitted(call)
    assert types_of(emitted) == [
        "call.initiated",
        "call.answered",
        *["call.ai_gather.partial_results", "call.ai_gather.message_history_updated"] * 2,
        "call.ai_gather.ended",
        "call.conversation.ended",
        *["call.dtmf.received"] * 3,
        "call.gather.ended",
        "call.gather.ended",
        "call.dtmf.received",
        "call.gather.ended",
        "call.hangup",
    ]
    states = [e["data"]["payload"].get("client_state") for e in emitted]
    assert states == [None, b64("answered"), *[b64("ai")] * 13, b64("bye")]
    payloads = [e["data"]["payload"] for e in emitted]
    assert payloads[0]["direction"] == "incoming" and payloads[0]["state"] == "parked"
    assert payloads[4]["partial_results"] == {"age": 29, "satisfaction": 4}
    assert payloads[6]["status"] == "valid" and payloads[6]["result"] == {"age": 29, "satisfaction": 4}
    assert [m["content"] for m in payloads[6]["message_history"]][-1] == "A four."
    assert [p.get("digit") for p in payloads[8:11]] == ["4", "2", "#"]
    assert (payloads[11]["status"], payloads[11]["digits"]) == ("valid", "42#")
    assert (payloads[12]["status"], payloads[12]["digits"]) == ("timeout", "")
    assert (payloads[14]["status"], payloads[14]["digits"]) == ("valid", "7")
    assert payloads[15]["hangup_cause"] == "normal_clearing" and payloads[15]["hangup_source"] == "callee"
    assert env.receiver.bodies(call) == emitted  # delivered once each, in order, as emitted
    await check_every_delivery(env.receiver)
    check_requests_against_spec(env.fake)


async def test_emitted_payloads_have_the_examples_fields(env: Env) -> None:
    call = env.fake.start_call(Scenario(ai_steps=[AIStep({"age": 29}, "Age?", "29")], keypad=["4"]))
    actions = env.client.calls.actions
    await actions.answer(call, client_state=b64("s"))
    await actions.speak(call, payload="Hi", voice="female", service_level="basic")
    await actions.gather_using_ai(
        call, parameters={"type": "object"}, send_partial_results=True, send_message_history_updates=True
    )
    await actions.gather_using_speak(call, payload="Key", voice="female", service_level="basic")
    await actions.hangup(call)
    await env.fake.wait_call_done(call)
    emitted = env.fake.events_emitted(call)
    assert {e["data"]["event_type"] for e in emitted} == set(MODELS)
    for body in emitted:
        example = json.loads((DATA / "examples" / f"{body['data']['event_type']}.json").read_text())
        assert set(body) == set(example) and set(body["data"]) == set(example["data"])
        expected = set(example["data"]["payload"]) - ({"client_state"} if body is emitted[0] else set())
        assert set(body["data"]["payload"]) == expected, body["data"]["event_type"]
        assert body["data"]["occurred_at"].endswith("Z") and len(body["data"]["occurred_at"]) == 27
    await check_every_delivery(env.receiver)


async def test_a_caller_hanging_up_during_the_ai_ends_the_call(env: Env) -> None:
    steps = [AIStep({"age": 29}, "Age?", "29"), AIStep({"age": 29, "city": "Paris"}, "City?", "Paris")]
    call = env.fake.start_call(Scenario(ai_steps=steps, hangup_during_ai_after=1))
    await env.client.calls.actions.answer(call)
    await env.client.calls.actions.gather_using_ai(call, parameters={"type": "object"}, send_partial_results=True)
    await env.fake.wait_call_done(call)
    emitted = env.fake.events_emitted(call)
    assert types_of(emitted) == [
        "call.initiated",
        "call.answered",
        "call.ai_gather.partial_results",
        "call.hangup",
    ]
    assert emitted[-1]["data"]["payload"]["hangup_source"] == "caller"
    with pytest.raises(telnyx.UnprocessableEntityError):
        await env.client.calls.actions.hangup(call)


async def test_keypad_invalid_and_hangup(env: Env) -> None:
    call = env.fake.start_call(Scenario(keypad=[KeypadInvalid("99"), KeypadHangup()]))
    await env.client.calls.actions.answer(call)
    for _ in range(2):
        await env.client.calls.actions.gather_using_speak(call, payload="Key", voice="female", service_level="basic")
    await env.fake.wait_call_done(call)
    gathers = [e["data"]["payload"] for e in env.fake.events_emitted(call)][2:]
    assert [(p.get("digit"), p.get("status"), p.get("digits")) for p in gathers] == [
        ("9", None, None),
        ("9", None, None),
        (None, "invalid", "99"),
        (None, "call_hangup", ""),
        (None, None, None),
    ]
    assert gathers[-1]["hangup_source"] == "caller"


async def test_outbound_dials(env: Env) -> None:
    env.fake.expect_dial(Scenario("outgoing", to_number="+15551110001"))
    env.fake.expect_dial(Scenario("outgoing", to_number="+15551110002", answers=False, no_answer_cause="user_busy"))
    dial = env.client.calls.dial
    answered = await dial(connection_id="c", from_="+15550000000", to="+15551110001", client_state=b64("o"))
    busy = await dial(connection_id="c", from_="+15550000000", to="+15551110002")
    nobody = await dial(connection_id="c", from_="+15550000000", to="+15559999999", command_id="d-1")
    again = await dial(connection_id="c", from_="+15550000000", to="+15559999999", command_id="d-1")
    assert again.data and nobody.data and again.data.call_control_id == nobody.data.call_control_id
    assert answered.data and busy.data
    ids = [answered.data.call_control_id, busy.data.call_control_id, nobody.data.call_control_id]
    for call_id in ids[1:]:
        await env.fake.wait_call_done(call_id)
    outcome = {i: [(e["data"]["event_type"], e["data"]["payload"]) for e in env.fake.events_emitted(i)] for i in ids}
    (initiated, initiated_payload), (answered_type, answered_payload) = outcome[ids[0]]
    assert (initiated, answered_type) == ("call.initiated", "call.answered")
    assert initiated_payload["direction"] == "outgoing" and initiated_payload["to"] == "+15551110001"
    assert answered_payload["client_state"] == b64("o") and answered_payload["connection_id"] == "c"
    assert [p.get("hangup_cause") for _, p in outcome[ids[1]]] == [None, "user_busy"]
    assert [p.get("hangup_cause") for _, p in outcome[ids[2]]] == [None, "no_answer"]
    await env.client.calls.actions.hangup(ids[0])
    await env.fake.wait_idle()
    await check_every_delivery(env.receiver)


# --- delivery ------------------------------------------------------------------------------------


async def test_redelivery_after_500_keeps_the_id_and_counts_attempts(env: Env) -> None:
    env.receiver.fail_first = 2
    call = env.fake.start_call(Scenario())
    await env.fake.wait_idle()
    bodies = env.receiver.bodies(call)
    assert len({b["data"]["id"] for b in bodies}) == 1
    assert [b["meta"]["attempt"] for b in bodies] == [1, 2, 3]
    assert {b["meta"]["delivered_to"] for b in bodies} == {env.fake.webhook_url}
    assert [d.status_code for d in env.fake.deliveries] == [500, 500, 200]
    assert [d.attempt for d in env.fake.deliveries] == [1, 2, 3] and env.fake.deliveries[-1].delivered
    await check_every_delivery(env.receiver)


async def test_no_answer_within_the_ack_timeout_is_redelivered() -> None:
    async with simulated(RetryPolicy(max_attempts=3, first_backoff_s=0.01, ack_timeout_s=0.2)) as env:
        env.receiver.stall_first, env.receiver.stall_s = 1, 0.5
        env.fake.start_call(Scenario())
        await env.fake.wait_idle()
        assert [(d.attempt, d.status_code) for d in env.fake.deliveries] == [(1, None), (2, 200)]
        assert "0.2 s" in (env.fake.deliveries[0].error or "")


async def test_delivery_gives_up_after_the_last_attempt(env: Env) -> None:
    env.receiver.fail_first = 100
    call = env.fake.start_call(Scenario())
    await env.client.calls.actions.hangup(call)
    await env.fake.wait_call_done(call, timeout=5)
    assert [d.attempt for d in env.fake.deliveries] == [1, 2, 3, 4, 1, 2, 3, 4]
    assert not any(d.delivered for d in env.fake.deliveries)


async def test_duplicates_option_delivers_every_event_twice(env: Env) -> None:
    call = env.fake.start_call(Scenario(delivery=Delivery(duplicate_every=True)))
    await env.client.calls.actions.answer(call)
    await env.fake.wait_idle()
    ids = [b["data"]["id"] for b in env.receiver.bodies(call)]
    assert len(ids) == 4 and ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert [d.duplicate for d in env.fake.deliveries] == [False, True, False, True]
    await check_every_delivery(env.receiver)


async def test_reordering_option_shuffles_within_a_window(env: Env) -> None:
    scenario = Scenario(keypad=["123456789#"], delivery=Delivery(reorder_window=4, seed=7, delay_s=0.001))
    call = env.fake.start_call(scenario)
    await env.client.calls.actions.answer(call)
    await env.client.calls.actions.gather_using_speak(call, payload="Key", voice="female", service_level="basic")
    await env.fake.wait_idle()
    emitted = [e["data"]["id"] for e in env.fake.events_emitted(call)]
    delivered = [b["data"]["id"] for b in env.receiver.bodies(call)]
    assert sorted(delivered) == sorted(emitted) and delivered != emitted
    gather = emitted[2:]  # the 11 gather events shuffle in windows of 4
    for start in range(0, len(gather), 4):
        assert set(delivered[2 + start : 2 + start + 4]) == set(gather[start : start + 4])


def test_webhooks_only_go_to_loopback() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        FakeTelnyx(webhook_url="https://example.com/webhooks")
    assert FakeTelnyx(webhook_url="http://localhost:8000/x").webhook_url == "http://localhost:8000/x"


def test_scenario_direction_is_checked() -> None:
    fake = FakeTelnyx()
    with pytest.raises(ValueError):
        fake.start_call(Scenario("outgoing"))
    with pytest.raises(ValueError):
        fake.expect_dial(Scenario("incoming"))
