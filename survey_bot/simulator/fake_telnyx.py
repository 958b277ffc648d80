"""Serve a fake Telnyx Call Control API that checks each command and plays scripted calls back as webhooks."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, Response, request

from survey_bot.simulator.after_response import AfterResponseQuart, after_response, run_after_response_now
from survey_bot.simulator.call_events import Planned
from survey_bot.simulator.caller import NEEDS_ANSWER, initiated, picked_up, react, rings
from survey_bot.simulator.calls import Call, new_call
from survey_bot.simulator.contract import ApiError, check_authorization, check_route, parse_body, validate_request
from survey_bot.simulator.delivery import DeliveryAttempt, RetryPolicy, WebhookDelivery, check_loopback_url
from survey_bot.simulator.faults import Faults
from survey_bot.simulator.received import ReceivedCommand
from survey_bot.simulator.scenario import Scenario
from survey_bot.simulator.signer import WebhookSigner
from survey_bot.simulator.waiting import Changes

__all__ = ["FakeTelnyx", "ReceivedCommand"]


class FakeTelnyx:
    """A Telnyx Call Control stand-in: serve `.app`, point the SDK's base_url at it, script the callers.

    Webhooks go to `webhook_url` (loopback only), signed by `signer`; give the app `signer.public_key_b64`.
    """

    def __init__(
        self,
        webhook_url: str | None = None,
        *,
        signer: WebhookSigner | None = None,
        connection_id: str = "1494404757140276705",
        retry_policy: RetryPolicy | None = None,
        dedupe_window_s: float = 60.0,
    ) -> None:
        self.signer = signer or WebhookSigner.generate()
        # who picks up a dial nobody registered with expect_dial (default: nobody answers)
        self.callee: Callable[[dict[str, Any]], Awaitable[Scenario | None]] | None = None
        self.connection_id = connection_id
        self.dedupe_window_s = dedupe_window_s
        self.requests: list[ReceivedCommand] = []
        self._changes = Changes()
        self._delivery = WebhookDelivery(self.signer, retry_policy or RetryPolicy(), self._changes.notify)
        self._calls: dict[str, Call] = {}
        self._emitted: dict[str, list[dict[str, Any]]] = {}
        self._expected: dict[str, deque[Scenario]] = {}
        self._dials: dict[str, tuple[float, dict[str, Any]]] = {}  # command_id -> (time, response data)
        self._faults = Faults()
        self._scheduled = 0  # responses whose webhooks are not queued yet
        if webhook_url is not None:
            self.webhook_url = webhook_url
        self.app = self._build_app()

    # --- configuration -------------------------------------------------------------------------
    @property
    def webhook_url(self) -> str | None:
        """Return where webhooks go."""
        return self._delivery.url

    @webhook_url.setter
    def webhook_url(self, url: str) -> None:
        self._delivery.url = check_loopback_url(url)

    @property
    def down(self) -> bool:
        """Return whether the API answers 503 to everything."""
        return self._faults.down

    @down.setter
    def down(self, value: bool) -> None:
        self._faults.down = value

    def fail_next(self, n: int, status: int = 500, *, retry_after: float | None = None, code: str | None = None,
                  action: str | None = None) -> None:
        """Answer the next `n` requests (for `action` only, if given) with a Telnyx-shaped `status` error."""
        self._faults.fail_next(n, status, retry_after, code, action)

    def refuse_dials(self, to: str, status: int = 422, code: str | None = "10016", pointer: str | None = "/to") -> None:
        """Refuse every dial to `to` for good, as Telnyx refuses an invalid number (no call, no webhooks)."""
        self._faults.refuse_dials(to, status, code, pointer)

    def delay_next(self, n: int, seconds: float) -> None:
        """Act on the next `n` successful commands at once but answer each only after `seconds`."""
        self._faults.delay_next(n, seconds)

    # --- scripted calls --------------------------------------------------------------------------
    def start_call(self, scenario: Scenario) -> str:
        """Ring the app with an incoming call played by `scenario`; return its call_control_id."""
        if scenario.direction != "incoming":
            raise ValueError("start_call plays incoming scenarios; register outgoing ones with expect_dial")
        if self.webhook_url is None:
            raise RuntimeError("set webhook_url before starting a call")
        call = new_call(
            scenario,
            connection_id=self.connection_id,
            direction="incoming",
            from_number=scenario.from_number,
            to_number=scenario.to_number,
        )
        self._calls[call.call_control_id] = call
        self._emit(call, [call.event(t, extras) for t, extras in initiated(call)])
        return call.call_control_id

    def expect_dial(self, scenario: Scenario) -> None:
        """Let `scenario` play the next dial to `scenario.to_number` (first registered, first used)."""
        if scenario.direction != "outgoing":
            raise ValueError("expect_dial takes outgoing scenarios")
        self._expected.setdefault(scenario.to_number, deque()).append(scenario)

    # --- inspection ----------------------------------------------------------------------------
    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Return every webhook delivery attempt so far, in order."""
        return self._delivery.attempts

    def accepted(self, call_control_id: str | None = None) -> list[ReceivedCommand]:
        """Return the commands acted upon (2xx, not duplicates), in order, optionally for one call."""
        return [
            r for r in self.requests if r.accepted and (call_control_id is None or r.call_control_id == call_control_id)
        ]

    def events_emitted(self, call_control_id: str) -> list[dict[str, Any]]:
        """Return copies of the webhook bodies emitted for a call, in emission order, as first delivered."""
        return copy.deepcopy(self._emitted.get(call_control_id, []))

    def call_state(self, call_control_id: str) -> str:
        """Return a call's state: parked, bridging, answered or hangup."""
        return self._calls[call_control_id].state

    async def wait_call_done(self, call_control_id: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - public API
        """Wait until the call has hung up and each of its webhooks was delivered or given up."""
        if call_control_id not in self._calls:
            raise KeyError(call_control_id)

        def done() -> bool:
            return self._calls[call_control_id].ended and not self._delivery.busy(call_control_id)

        await self._changes.wait_for(done, timeout, f"call {call_control_id} not done")

    async def wait_idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - public API
        """Wait until no webhook is waiting to be emitted, queued or being delivered."""
        await self._changes.wait_for(
            lambda: self._scheduled == 0 and not self._delivery.busy(), timeout, "simulator not idle"
        )

    async def aclose(self) -> None:
        """Stop deliveries in progress and release the HTTP client (also done when `.app` shuts down)."""
        await self._delivery.aclose()

    # --- HTTP ----------------------------------------------------------------------------------
    def _build_app(self) -> Quart:
        app = AfterResponseQuart(__name__)

        @app.post("/calls")
        async def dial() -> Response:
            return await self._handle("dial", None)

        @app.post("/calls/<call_control_id>/actions/<action>")
        @app.put("/calls/<call_control_id>/actions/<action>")
        async def action(call_control_id: str, action: str) -> Response:
            return await self._handle(action, call_control_id)

        @app.get("/calls/<call_control_id>")
        async def status(call_control_id: str) -> Response:
            call = self._calls.get(call_control_id)
            if call is None:
                return Response(json.dumps(ApiError.unknown_call().body), 404, content_type="application/json")
            return Response(json.dumps({"data": call.status()}), 200, content_type="application/json")

        @app.after_serving
        async def close() -> None:
            await self.aclose()

        return app

    async def _handle(self, action: str, call_control_id: str | None) -> Response:
        """Run one command: gate, validate, act, record; emit its webhooks once answered."""
        parsed = parse_body(await request.get_data(as_text=False))
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        command_id = body.get("command_id") if isinstance(body.get("command_id"), str) else None
        received_at = time.time()
        duplicate = False
        try:
            self._faults.raise_if_down()
            check_authorization(request.headers.get("Authorization", ""))
            check_route(request.method, action, dialing=call_control_id is None)
            self._faults.raise_if_failing(action)
            valid = validate_request(action, parsed)
            if action == "dial":
                data, duplicate, events = await self._dial(valid)
                call_control_id = data["call_control_id"]
            else:
                assert call_control_id is not None
                data, duplicate, events = self._act(call_control_id, action, valid)
        except ApiError as err:
            self.requests.append(
                ReceivedCommand(call_control_id, action, body, command_id, err.status, False, received_at)
            )
            return Response(json.dumps(err.body), err.status, err.headers, content_type="application/json")
        self.requests.append(ReceivedCommand(call_control_id, action, body, command_id, 200, duplicate, received_at))
        self._after_response(call_control_id, events)
        delay = self._faults.take_delay()
        if delay is not None:
            # The command took effect; only the answer is late (the SDK may time out and retry it).
            run_after_response_now()
            await asyncio.sleep(delay)
        return Response(json.dumps({"data": data}), 200, content_type="application/json")

    async def _dial(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool, list[dict[str, Any]]]:
        command_id = body.get("command_id")
        if command_id is not None and command_id in self._dials:
            first, data = self._dials[command_id]
            if time.monotonic() - first < self.dedupe_window_s:
                return data, True, []
        to = body["to"] if isinstance(body["to"], str) else next(iter(body["to"]), "")
        if not to:
            raise ApiError.single(422, detail="to must name a number", pointer="/to")
        self._faults.raise_if_refused(to)
        scenarios = self._expected.get(to)
        scenario = scenarios.popleft() if scenarios else await self.callee(body) if self.callee else None
        scenario = scenario or Scenario("outgoing", body["from"], to, False)  # nobody answers
        call = new_call(
            scenario,
            connection_id=body["connection_id"],
            direction="outgoing",
            from_number=body["from"],
            to_number=to,
        )
        call.client_state, call.amd = body.get("client_state"), body.get("answering_machine_detection")
        self._calls[call.call_control_id] = call
        data = {
            "call_control_id": call.call_control_id,
            "call_leg_id": call.call_leg_id,
            "call_session_id": call.call_session_id,
            "is_alive": False,
            "record_type": "call",
        }
        if call.client_state is not None:
            data["client_state"] = call.client_state
        if command_id is not None:
            self._dials[command_id] = (time.monotonic(), data)
        events = initiated(call)
        if rings(call):  # the ring starts once the dial is answered (its call.initiated goes first)
            after_response(lambda: self._later(scenario.ring_s, call, lambda: self._pick_up(call)))
        else:
            events += self._pick_up(call)
        return data, False, [call.event(t, extras) for t, extras in events]

    def _pick_up(self, call: Call) -> list[Planned]:
        """The callee picks up or the dial fails; a machine's greeting ends a moment after its detection."""
        now, greeting = picked_up(call)
        if greeting:
            self._later(call.scenario.greeting_s, call, lambda: greeting)
        return now

    def _later(self, delay: float, call: Call, planned: Callable[[], list[Planned]]) -> None:
        """Emit `planned()`'s events in `delay` s, unless the call has ended by then (the app hung up first)."""
        self._scheduled += 1

        def fire() -> None:
            self._scheduled -= 1
            if not call.ended:
                self._emit(call, [call.event(t, extras) for t, extras in planned()])
            self._changes.notify()

        asyncio.get_running_loop().call_later(delay, fire)

    def _act(
        self, call_control_id: str, action: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool, list[dict[str, Any]]]:
        call = self._calls.get(call_control_id)
        if call is None:
            raise ApiError.unknown_call()
        command_id = body.get("command_id")
        prior = call.prior_response(command_id, self.dedupe_window_s)
        if prior is not None:
            return prior, True, []  # Telnyx ignores a repeated command_id on the same call
        if call.ended:
            raise ApiError.call_ended()
        if action in NEEDS_ANSWER and call.state != "answered":
            raise ApiError.not_answered()
        if "client_state" in body:
            call.client_state = body["client_state"]  # echoed on every later webhook
        reaction = react(call, action, body)
        data = {"result": "ok", **reaction.response}
        call.remember_command(command_id, data)
        return data, False, [call.event(t, extras) for t, extras in reaction.events]

    def _after_response(self, call_control_id: str | None, events: list[dict[str, Any]]) -> None:
        if call_control_id is None or not events:
            return
        call = self._calls[call_control_id]
        self._scheduled += 1

        def emit() -> None:
            self._scheduled -= 1
            self._emit(call, events)

        after_response(emit)

    def _emit(self, call: Call, events: list[dict[str, Any]]) -> None:
        url = self.webhook_url
        recorded = self._emitted.setdefault(call.call_control_id, [])
        recorded.extend({**e, "meta": {"attempt": 1, "delivered_to": url}} for e in events)
        self._delivery.submit(call.call_control_id, events, call.scenario.delivery)
        self._changes.notify()
