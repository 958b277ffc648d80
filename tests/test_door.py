"""The admin's door, on SQLite and PostgreSQL: server-side sessions (logout, a token change and idle time end them),
a signing key independent of the admin token, a minimum token length, a malformed Telnyx key refused at start,
and failed authentication limited per client address (behind trusted proxies, by X-Forwarded-For)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.testing import QuartClient
from sqlalchemy import update

from survey_bot.errors import ConfigError
from survey_bot.storage.models import AdminSession
from survey_bot.utc import now as utc_now
from survey_bot.web.app import create_app
from survey_bot.web.state import state

FORMS = Path(__file__).resolve().parent.parent / "forms"
TOKEN = "door-test-admin-token"
ANY_KEY = base64.b64encode(b"k" * 32).decode()
COOKIE = "survey_bot_dashboard"


def make_app(database_url: str, **overrides: Any) -> Quart:
    return create_app({"database_url": database_url, "telnyx_public_key": ANY_KEY, "admin_token": TOKEN,
                       "forms_dir": FORMS, "dispatch_commands": False, **overrides})


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Quart]:
    app = make_app(database_url)
    async with app.test_app():
        yield app


def from_address(address: str) -> dict[str, Any]:
    return {"scope_base": {"client": (address, 40000)}}


async def csrf_of(client: QuartClient, path: str = "/dashboard/login") -> str:
    html = await (await client.get(path)).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


async def sign_in(client: QuartClient, token: str = TOKEN, address: str = "127.0.0.1") -> int:
    response = await client.post("/dashboard/login", form={"csrf_token": await csrf_of(client), "token": token,
                                                           "next": "/dashboard/"}, **from_address(address))
    return response.status_code


def cookie_of(client: QuartClient) -> str:
    for cookie in client.cookie_jar:
        if cookie.name == COOKIE:
            return str(cookie.value)
    raise AssertionError("no dashboard cookie")


async def opens(app: Quart, cookie: str, path: str) -> bool:
    """Whether a request carrying only this cookie gets the page (not a redirect to sign-in or a 401)."""
    response = await app.test_client().get(path, headers={"Cookie": f"{COOKIE}={cookie}"})
    return response.status_code == 200


PROTECTED = ["/dashboard/", "/dashboard/forms/customer_satisfaction",
             "/dashboard/forms/customer_satisfaction/export.csv", "/dashboard/live/stream"]


async def test_logout_ends_the_session_everywhere_its_cookie_went(app: Quart) -> None:
    client = app.test_client()
    assert await sign_in(client) == 302
    captured = cookie_of(client)
    app.config["DASHBOARD_LIVE_MAX_SECONDS"] = 0.1
    assert [await opens(app, captured, path) for path in PROTECTED] == [True] * 4
    await client.post("/dashboard/logout", form={"csrf_token": await csrf_of(client, "/dashboard/")})
    assert [await opens(app, captured, path) for path in PROTECTED] == [False] * 4


async def test_a_token_change_and_idle_time_end_sessions(database_url: str) -> None:
    first = make_app(database_url, secret_key="a-shared-signing-key-for-both-apps")
    async with first.test_app():
        client = first.test_client()
        assert await sign_in(client) == 302
        captured = cookie_of(client)
        assert await opens(first, captured, "/dashboard/")
        # the idle timeout: a session unused for SURVEY_BOT_SESSION_IDLE_MINUTES (30) is over
        async with state(first).sessions() as db, db.begin():
            await db.execute(update(AdminSession).values(last_seen_at=utc_now() - timedelta(minutes=31)))
        assert not await opens(first, captured, "/dashboard/")
        assert await sign_in(client) == 302
        captured = cookie_of(client)
    rotated = make_app(database_url, secret_key="a-shared-signing-key-for-both-apps",
                       admin_token="a-brand-new-admin-token")
    async with rotated.test_app():
        assert not await opens(rotated, captured, "/dashboard/")  # the old token's sessions are over


async def test_the_signing_key_is_no_oracle_for_the_admin_token(app: Quart, database_url: str) -> None:
    derived = hmac.new(TOKEN.encode(), b"survey-bot dashboard session key", hashlib.sha256).hexdigest()
    assert app.secret_key and app.secret_key != derived and TOKEN not in str(app.secret_key)
    # the generated key is kept in the database: a second instance signs with the same one
    second = make_app(database_url)
    async with second.test_app():
        assert second.secret_key == app.secret_key
    configured = make_app(database_url, secret_key="an-operator-chosen-signing-key")
    async with configured.test_app():
        assert configured.secret_key == "an-operator-chosen-signing-key"
    # a cookie forged with the old derivation (from the token alone) opens nothing
    forger = make_app(database_url, secret_key=derived)
    async with forger.test_app():
        client = forger.test_client()
        assert await sign_in(client) == 302
        forged = cookie_of(client)
    assert not await opens(app, forged, "/dashboard/")


@pytest.mark.parametrize(("overrides", "says"), [
    ({"admin_token": "short-token"}, "is 11 characters: use at least 16"),
    ({"telnyx_public_key": "not base64!"}, "TELNYX_PUBLIC_KEY is not base64"),
    ({"telnyx_public_key": base64.b64encode(b"k" * 31).decode()}, "decodes to 31 bytes, not the 32"),
    ({"trusted_proxies": "10.0.0.1, nginx"}, "'nginx' is not an IP address or network"),
])
def test_settings_that_leave_the_door_weak_refuse_to_start(overrides: dict[str, Any], says: str,
                                                           tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        make_app(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", **overrides)


async def test_failed_bearer_tokens_are_limited_per_address(app: Quart) -> None:
    client = app.test_client()
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    right = {"Authorization": f"Bearer {TOKEN}"}
    codes = [(await client.get("/api/forms", headers=wrong, **from_address("10.0.0.7"))).status_code
             for _ in range(10)]
    assert codes == [401] * 10
    blocked = await client.get("/api/forms", headers=wrong, **from_address("10.0.0.7"))
    assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 60
    # the limited address cannot try the right token either (else a guess would still be told apart)...
    assert (await client.get("/api/forms", headers=right, **from_address("10.0.0.7"))).status_code == 429
    # ...while another address is not slowed at all
    assert (await client.get("/api/forms", headers=right, **from_address("10.0.0.8"))).status_code == 200


async def test_failed_sign_ins_are_limited_and_the_page_says_when_to_retry(app: Quart) -> None:
    client = app.test_client()
    codes = [await sign_in(client, "wrong-token-guess-" + str(i), "10.0.0.9") for i in range(11)]
    assert codes == [401] * 10 + [429]
    assert await sign_in(app.test_client(), TOKEN, "10.0.0.10") == 302


async def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(database_url: str) -> None:
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    untrusted = make_app(database_url)
    async with untrusted.test_app():
        client = untrusted.test_client()
        for i in range(10):  # a new X-Forwarded-For per try does not escape the limit
            await client.get("/api/forms", headers={**wrong, "X-Forwarded-For": f"198.51.100.{i}"},
                             **from_address("10.0.0.20"))
        spoofed = await client.get("/api/forms", headers={**wrong, "X-Forwarded-For": "198.51.100.99"},
                                   **from_address("10.0.0.20"))
        assert spoofed.status_code == 429
    proxied = make_app(database_url, trusted_proxies="10.0.0.0/24")
    async with proxied.test_app():
        client = proxied.test_client()
        for _ in range(10):  # one caller behind nginx uses up its own limit...
            await client.get("/api/forms", headers={**wrong, "X-Forwarded-For": "203.0.113.5, 10.0.0.30"},
                             **from_address("10.0.0.30"))
        limited = await client.get("/api/forms", headers={**wrong, "X-Forwarded-For": "203.0.113.5"},
                                   **from_address("10.0.0.30"))
        assert limited.status_code == 429
        other = await client.get("/api/forms", headers={"Authorization": f"Bearer {TOKEN}",  # ...not the others'
                                                        "X-Forwarded-For": "203.0.113.6"}, **from_address("10.0.0.30"))
        assert other.status_code == 200


async def test_the_cookie_is_secure_when_a_trusted_proxy_says_https(database_url: str) -> None:
    proxied = make_app(database_url, trusted_proxies="10.0.0.0/24")
    async with proxied.test_app():
        for peer, secure in (("10.0.0.40", True), ("192.0.2.1", False)):  # believed only from the proxy
            page = await proxied.test_client().get("/dashboard/login", headers={"X-Forwarded-Proto": "https"},
                                                   **from_address(peer))
            cookie = page.headers.get("Set-Cookie", "")
            assert cookie.startswith(COOKIE) and ("Secure" in cookie) is secure, (peer, cookie)
