"""A Telnyx Call Control simulator: fake API, scripted callers and signed webhooks, for tests and demos.

Typical use (give the app `fake.signer.public_key_b64` as its Telnyx public key):

fake = FakeTelnyx(webhook_url="http://127.0.0.1:8000/webhooks/telnyx")
async with serve_asgi(fake.app) as telnyx_url:   # AsyncTelnyx(base_url=telnyx_url, ...)
    call_id = fake.start_call(Scenario(keypad=["4#"]))
    await fake.wait_call_done(call_id)
"""

from survey_bot.simulator.calls import new_call_control_id
from survey_bot.simulator.contract import ApiError, validate_request
from survey_bot.simulator.delivery import DeliveryAttempt, RetryPolicy, WebhookDelivery, check_loopback_url
from survey_bot.simulator.fake_telnyx import FakeTelnyx, ReceivedCommand
from survey_bot.simulator.scenario import (
    AIStep,
    Delivery,
    KeypadEntry,
    KeypadHangup,
    KeypadInvalid,
    KeypadTimeout,
    Scenario,
)
from survey_bot.simulator.signer import WebhookSigner

__all__ = [
    "AIStep",
    "ApiError",
    "Delivery",
    "DeliveryAttempt",
    "FakeTelnyx",
    "KeypadEntry",
    "KeypadHangup",
    "KeypadInvalid",
    "KeypadTimeout",
    "ReceivedCommand",
    "RetryPolicy",
    "Scenario",
    "WebhookDelivery",
    "WebhookSigner",
    "check_loopback_url",
    "new_call_control_id",
    "validate_request",
]
