"""Fuzz the webhook route: random and mutated bodies and headers, signed and unsigned. Whatever arrives, the
answer is a 2xx or a 4xx (never a 5xx, never a crash), and nothing is stored from a body whose signature
does not verify. Seeded, so a failure reproduces; bounded in count."""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import func, select

from survey_bot.simulator import WebhookSigner
from survey_bot.storage.models import Command, WebhookEvent
from survey_bot.web.app import create_app
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
EXAMPLES = sorted((Path(__file__).resolve().parent / "data" / "telnyx" / "examples").glob("*.json"))
SIGNER = WebhookSigner.from_seed(b"f" * 32)
OTHER = WebhookSigner.from_seed(b"o" * 32)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Quart]:
    application = create_app({"database_url": database_url, "telnyx_public_key": SIGNER.public_key_b64,
                              "forms_dir": FORMS, "dispatch_commands": False, "max_body_bytes": 4096})
    async with application.test_app():
        yield application


def mutate(rng: random.Random, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        choice = rng.random()
        if choice < 0.3 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.5 and data:
            del data[rng.randrange(len(data)):rng.randrange(len(data)) + 1]
        elif choice < 0.7:
            data[rng.randrange(len(data) + 1):rng.randrange(len(data) + 1)] = rng.choice(
                [b"\xff", b"\x00", b'"', b"{", b"]", b"null", b"1e999", b"\\u0000", b"\xed\xa0\x80"])
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    return bytes(data)


def mutate_json(rng: random.Random, raw: bytes) -> bytes:
    """Structure-aware: keep it JSON, change types and values of the envelope."""
    body: Any = json.loads(raw)
    weird = [None, 0, -1, 2**70, "", "x" * 200, [], {}, True, 1.5, "\u202e", "😀"]
    target = rng.choice(["data", "id", "event_type", "payload", "client_state", "partial_results", "status"])
    if target == "data":
        body["data"] = rng.choice(weird)
        return json.dumps(body).encode()
    if target in ("id", "event_type", "payload"):
        body["data"][target] = rng.choice(weird)
    else:
        payload = body["data"].setdefault("payload", {})
        if isinstance(payload, dict):
            payload[target] = rng.choice([*weird, "eyJyIjoiIn0=", "!!!"])
    if isinstance(body.get("data"), dict) and target != "id":
        body["data"]["id"] = f"fuzz-{rng.getrandbits(64)}"  # distinct events, not redeliveries
    return json.dumps(body).encode()


def header_cases(body: bytes) -> list[tuple[str, dict[str, str], bool]]:
    """(name, headers, signature valid?) around the 300 s tolerance and malformed signatures."""
    now = int(time.time())
    good = SIGNER.headers(body)
    signature = good["telnyx-signature-ed25519"]
    return [
        ("valid", good, True),
        ("at +300 s", SIGNER.headers(body, timestamp=now + 299), True),
        ("at -300 s", SIGNER.headers(body, timestamp=now - 299), True),
        ("at +301 s", SIGNER.headers(body, timestamp=now + 302), False),
        ("at -301 s", SIGNER.headers(body, timestamp=now - 302), False),
        ("other key", OTHER.headers(body), False),
        ("no signature", {"telnyx-timestamp": str(now)}, False),
        ("no timestamp", {"telnyx-signature-ed25519": signature}, False),
        ("bad base64", {**good, "telnyx-signature-ed25519": "%%%not base64%%%"}, False),
        ("short signature", {**good, "telnyx-signature-ed25519": base64.b64encode(b"x" * 63).decode()}, False),
        ("long signature", {**good, "telnyx-signature-ed25519": base64.b64encode(b"x" * 65).decode()}, False),
        ("timestamp not a number", {**good, "telnyx-timestamp": "soon"}, False),
        ("empty signature", {**good, "telnyx-signature-ed25519": ""}, False),
    ]


async def test_fuzzed_webhooks_never_get_a_5xx_and_unsigned_ones_store_nothing(app: Quart) -> None:
    rng = random.Random(20261123)
    client = app.test_client()
    signed_ok: set[str] = set()
    statuses: dict[int, int] = {}
    for n in range(360):
        raw = rng.choice(EXAMPLES).read_bytes()
        body = raw if n % 9 == 0 else (mutate(rng, raw) if n % 2 else mutate_json(rng, raw))
        name, headers, valid = rng.choice(header_cases(body))
        if rng.random() < 0.1:
            headers = {k.upper() if rng.random() < 0.5 else k: v for k, v in headers.items()}
        response = await client.post("/webhooks/telnyx", data=body, headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert 200 <= response.status_code < 500, (name, body[:200], response.status_code)
        if not valid:
            assert response.status_code in (400, 401, 413), (name, response.status_code)
        if response.status_code == 200:
            assert valid, name
            signed_ok.add((await response.get_json())["event_id"])
    async with state(app).sessions() as session:
        stored = set((await session.scalars(select(WebhookEvent.id))).all())
        commands = await session.scalar(select(func.count()).select_from(Command))
    assert stored == signed_ok  # nothing from a body that did not verify
    assert statuses.get(401, 0) > 50 and statuses.get(200, 0) > 10 and statuses.get(400, 0) > 10
    assert commands is not None


async def test_body_over_the_limit_is_refused_before_it_is_read_whole(app: Quart) -> None:
    client = app.test_client()
    body = b"{" + b" " * 10_000 + b"}"
    response = await client.post("/webhooks/telnyx", data=body, headers=SIGNER.headers(body))
    assert response.status_code == 413
