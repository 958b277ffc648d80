"""Webhook signature verification on the exact raw bytes, with the SDK's own Ed25519 verifier.

We call `telnyx.lib.webhook_verification.verify_webhook_signature` and parse the JSON ourselves (one of the
two behaviours contract.md says to pin). Importing `telnyx.lib` turns the SDK's `webhooks.unwrap` into a
coroutine process-wide, so nothing in survey-bot calls `unwrap`. No I/O happens here.
"""

from __future__ import annotations

from collections.abc import Mapping

from telnyx.lib.webhook_verification import WebhookVerificationError, verify_webhook_signature

from survey_bot.errors import PayloadError, SignatureError

__all__ = ["verify_and_decode"]


def verify_and_decode(body: bytes, headers: Mapping[str, str], public_key: str | None) -> str:
    """Return the body as text once its signature checks out; raise SignatureError or PayloadError.

    `public_key` None means verification is switched off (--insecure-skip-verify).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not UTF-8 (invalid byte at offset {exc.start})") from exc
    if public_key is None:
        return text
    try:
        verify_webhook_signature(text, headers, public_key)
    except WebhookVerificationError as exc:
        raise SignatureError(exc.message) from exc
    except (ValueError, UnicodeError) as exc:  # defensive: the verifier must never turn into a 5xx
        raise SignatureError(f"signature could not be checked: {exc}") from exc
    return text
