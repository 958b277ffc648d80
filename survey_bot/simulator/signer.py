"""Sign webhook bodies with Ed25519 exactly as Telnyx does, so the app's real verification runs in tests."""

from __future__ import annotations

import base64
import time

from nacl.signing import SigningKey

__all__ = ["WebhookSigner"]


class WebhookSigner:
    """An Ed25519 key pair standing in for Telnyx's webhook signing key.

    Hand `public_key_b64` to the app as its Telnyx public key (the value the portal shows); sign each
    body with `headers(body)` and send those headers with the exact bytes that were signed.
    """

    def __init__(self, signing_key: SigningKey) -> None:
        self._key = signing_key

    @classmethod
    def generate(cls) -> WebhookSigner:
        """Create a signer with a fresh random key."""
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> WebhookSigner:
        """Create a signer from a 32-byte seed, for a key that is stable across runs."""
        if len(seed) != 32:
            raise ValueError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
        return cls(SigningKey(seed))

    @property
    def public_key_b64(self) -> str:
        """Return base64 of the raw 32-byte public key, as the Telnyx portal shows it."""
        return base64.b64encode(bytes(self._key.verify_key)).decode("ascii")

    def signature(self, body: bytes, timestamp: int) -> str:
        """Return base64 of the Ed25519 signature over b"{timestamp}|{body}"."""
        signed = self._key.sign(str(timestamp).encode("ascii") + b"|" + body)
        return base64.b64encode(signed.signature).decode("ascii")

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Return the headers Telnyx sends with a webhook carrying `body` (now, unless `timestamp`)."""
        ts = int(time.time()) if timestamp is None else timestamp
        return {
            "Content-Type": "application/json",
            "User-Agent": "telnyx-webhooks",
            "telnyx-signature-ed25519": self.signature(body, ts),
            "telnyx-timestamp": str(ts),
        }
