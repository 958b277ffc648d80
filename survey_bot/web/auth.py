"""The admin token: /api and the dashboard answer 503 until it is configured, 401 without it."""

from __future__ import annotations

import hmac

__all__ = ["token_matches"]


def token_matches(configured: str, presented: str | None) -> bool:
    """Compare in constant time; an unset token never matches."""
    if not configured or presented is None:
        return False
    return hmac.compare_digest(configured.encode(), presented.encode())
