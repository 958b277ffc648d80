"""Failed authentication is limited per client address: 10 failures per address per 60 s, then 429 with
Retry-After, counted in the database so every worker and host enforces one limit.

The client address is the peer's, or, when the peer is a reverse proxy listed in SURVEY_BOT_TRUSTED_PROXIES,
the nearest address in X-Forwarded-For that is not itself a trusted proxy (behind nginx without that setting,
every caller would share the proxy's one limit; believing the header from anybody would let a guesser pick a
new address per try). Rate-limit libraries such as `limits` keep their counters in memory, Redis or
memcached; the database is the one store every survey-bot instance already shares, so the fixed-window
counter is a single upsert here (storage.admin.count_failure).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from quart import Quart, Response, jsonify, request

from survey_bot.storage.admin import count_failure, failures_in_window
from survey_bot.utc import now as utc_now
from survey_bot.web.state import state

__all__ = ["LIMIT", "WINDOW", "Blocked", "blocked", "client_address", "forwarded_https", "note_failure",
           "too_many"]

LIMIT = 10
WINDOW = timedelta(seconds=60)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Blocked:
    """A client over its limit, and how long until it may try again."""

    retry_after: int


@lru_cache(maxsize=8)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The networks SURVEY_BOT_TRUSTED_PROXIES lists (checked when the app starts: see parse_trusted)."""
    return parse_trusted(setting)


def parse_trusted(setting: str) -> tuple[Network, ...]:
    """Parse `10.0.0.1, 192.168.0.0/16, ::1`; raise ValueError naming the entry that is not an address."""
    networks = []
    for entry in (part.strip() for part in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"SURVEY_BOT_TRUSTED_PROXIES: {entry!r} is not an IP address or network") from None
    return tuple(networks)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_https(app: Quart) -> bool:
    """Whether a trusted reverse proxy says the client's request came over HTTPS (X-Forwarded-Proto)."""
    networks = trusted_networks(state(app).settings.trusted_proxies)
    peer = request.remote_addr or ""
    if not networks or not _is_trusted(peer, networks):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https"


def client_address(app: Quart) -> str:
    """The address a request comes from, as the limit counts it."""
    peer = request.remote_addr or "unknown"
    networks = trusted_networks(state(app).settings.trusted_proxies)
    if not networks or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in request.headers.getlist("X-Forwarded-For") for hop in header.split(",")]
    for hop in reversed([h for h in hops if h]):  # the nearest hop the trusted proxies did not add themselves
        if not _is_trusted(hop, networks):
            return _canonical(hop)
    return peer


def _canonical(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address[:64]  # not an address: still counted, under what the proxy wrote


async def blocked(app: Quart, client: str) -> Blocked | None:
    """Whether `client` has used up its failures for now."""
    now = utc_now()
    async with state(app).sessions() as db:
        failures, started = await failures_in_window(db, client, now, WINDOW)
    if failures < LIMIT:
        return None
    return Blocked(max(1, math.ceil((started + WINDOW - now).total_seconds())))


async def note_failure(app: Quart, client: str) -> None:
    """Count a failed authentication (the limit applies from the next attempt on)."""
    async with state(app).sessions() as db, db.begin():
        await count_failure(db, client, utc_now(), WINDOW)


def too_many(limited: Blocked) -> tuple[Response, int]:
    """The 429 a blocked client gets, saying when to try again."""
    response = jsonify(error="too_many_requests",
                       detail=f"too many failed sign-ins from this address: try again in {limited.retry_after} s")
    response.headers["Retry-After"] = str(limited.retry_after)
    return response, 429
