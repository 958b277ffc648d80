"""Dashboard sessions kept on the server: a random id in the (signed) cookie, the record in the database.

Logout deletes the record; a token change makes every record's fingerprint stale; a session unused for
SURVEY_BOT_SESSION_IDLE_MINUTES, or older than 12 hours, is over. The cookie is signed with independent random
material (SURVEY_BOT_SECRET_KEY, else a secret generated once and kept in the database), never with anything
derived from the admin token: a cookie handed to an anonymous visitor is no oracle for guessing the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from quart import Quart, g, session

from survey_bot.storage.admin import delete_session, load_session, save_session, shared_secret, touch_session
from survey_bot.storage.models import AdminSession
from survey_bot.utc import as_utc
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

__all__ = ["LIFETIME", "SignedIn", "current", "end", "load_secret_key", "start"]

LIFETIME = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # last-seen writes at most this often per session
_COOKIE_KEY = "sid"


@dataclass(frozen=True)
class SignedIn:
    """The signed-in session of this request."""

    id_hash: str
    csrf: str


async def load_secret_key(app: Quart) -> None:
    """Give the app its cookie-signing key: the configured one, or the database's shared one."""
    configured = state(app).settings.secret_key
    if configured:
        app.secret_key = configured
        return
    async with state(app).sessions() as db, db.begin():
        app.secret_key = await shared_secret(db, "dashboard_cookie_key", utc_now())


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def fingerprint(app: Quart, token: str) -> str:
    """What a session records of the admin token it was opened with (an HMAC under the signing key)."""
    key = str(app.secret_key or "").encode()
    return hmac.new(key, b"admin token:" + token.encode(), hashlib.sha256).hexdigest()


async def start(app: Quart, client: str) -> SignedIn:
    """Open a session for a right token: a fresh id and CSRF token in the cookie, the record stored."""
    session_id, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), utc_now()
    row = AdminSession(id_hash=_hash(session_id), token_fingerprint=fingerprint(app, state(app).settings.admin_token),
                       csrf=csrf, client=client[:64], created_at=now, last_seen_at=now, expires_at=now + LIFETIME)
    async with state(app).sessions() as db, db.begin():
        await save_session(db, row)
    session.clear()
    session.permanent = True
    session[_COOKIE_KEY], session["csrf"] = session_id, csrf
    signed_in = SignedIn(row.id_hash, csrf)
    g.signed_in = signed_in
    return signed_in


async def current(app: Quart) -> SignedIn | None:
    """This request's session if it is still open (looked up once per request)."""
    if "signed_in" in g:
        found: SignedIn | None = g.signed_in
        return found
    g.signed_in = await _lookup(app, utc_now())
    return g.signed_in  # type: ignore[no-any-return]


async def _lookup(app: Quart, now: datetime) -> SignedIn | None:
    session_id: object = session.get(_COOKIE_KEY)
    token = state(app).settings.admin_token
    if not isinstance(session_id, str) or not token:
        return None
    id_hash = _hash(session_id)
    idle = timedelta(minutes=state(app).settings.session_idle_minutes)
    async with state(app).sessions() as db, db.begin():
        row = await load_session(db, id_hash)
        if row is None:
            return None
        over = as_utc(row.expires_at) <= now or as_utc(row.last_seen_at) + idle <= now
        stale = not hmac.compare_digest(row.token_fingerprint, fingerprint(app, token))
        if over or stale:
            await delete_session(db, id_hash)
            return None
        if now - as_utc(row.last_seen_at) >= TOUCH_EVERY:
            await touch_session(db, id_hash, now)
        return SignedIn(id_hash, row.csrf)


async def still_open(app: Quart, signed_in: SignedIn) -> bool:
    """Whether a session seen earlier is still open now (a long-lived stream asks this as it goes)."""
    async with state(app).sessions() as db:
        row = await load_session(db, signed_in.id_hash)
    return row is not None and as_utc(row.expires_at) > utc_now()


async def end(app: Quart) -> None:
    """Sign out: delete the record (the cookie opens nothing any more) and clear the cookie."""
    session_id: object = session.get(_COOKIE_KEY)
    if isinstance(session_id, str):
        async with state(app).sessions() as db, db.begin():
            await delete_session(db, _hash(session_id))
    session.clear()
    g.signed_in = None
