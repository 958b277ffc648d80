"""Where an outbound webhook may go: an http(s) URL whose host resolves only to public addresses, unless
SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE=1 (tests, an EHR on the premises) allows loopback and private ones too.

Checked when an endpoint is added and again before every attempt, on the addresses the name resolves to then
(not only the URL's literal), and the attempt connects to the address that was checked: a name that resolves
to a public address when added and to 127.0.0.1 later (DNS rebinding) is refused, so an admin token alone
cannot turn the server into a probe of its own network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["RESOLVE_TIMEOUT", "Target", "TargetError", "check_url", "resolve_target"]

RESOLVE_TIMEOUT = 5.0  # seconds for a name lookup
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetError(ValueError):
    """The URL is not one a webhook may be sent to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    host: str
    port: int
    address: str


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with a host and no credentials; raise TargetError saying what is
    wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetError(f"{url!r}: the URL must start with https:// (or http://)")
    if not parts.hostname:
        raise TargetError(f"{url!r}: the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetError(f"{url!r}: credentials in the URL are not allowed (the signature authenticates us)")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _private(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


async def resolve_target(url: str, allow_private: bool) -> Target:
    """Check the URL and resolve its host; raise TargetError if it does not resolve or if any address it
    resolves to is loopback, private, link-local or otherwise not public (unless `allow_private`)."""
    _scheme, host, port = check_url(url)
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise TargetError(f"{host}: the name does not resolve ({exc or 'timed out'})") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not addresses:
        raise TargetError(f"{host}: the name resolves to no address")
    refused = [str(a) for a in addresses if _private(a)]
    if refused and not allow_private:
        raise TargetError(f"{host} resolves to {', '.join(refused)}: loopback and private addresses are refused "
                          "unless SURVEY_BOT_WEBHOOKS_ALLOW_PRIVATE=1")
    return Target(url, host, port, str(addresses[0]))
