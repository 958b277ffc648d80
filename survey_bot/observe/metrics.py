"""The counters and the histogram survey-bot's processes keep, and the one-line functions that move them.

Every process (each web worker, each dispatcher child) counts what it did itself; a scrape adds them up
(observe.exposition). Under `survey-bot serve` PROMETHEUS_MULTIPROC_DIR is set before any process starts
(observe.multiprocess), so prometheus_client keeps each process's values in a small memory-mapped file:
an increment costs a few microseconds and never waits on I/O, so the intake can count every webhook.
What the database knows (responses by status, calls in progress, the outbox's lag) is not counted here but
read at scrape time, so every worker and every host reports the same truth.

prometheus_client decides between memory and files once, when it is imported; the CLI imports most of
survey-bot before `serve` sets the directory, so it is imported here only when the first value moves.

The watchdog (which ends calls gone silent) reports each action through `watchdog_action`.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

__all__ = ["OTHER", "UNKNOWN", "command", "instruments", "intake_seconds", "watchdog_action", "webhook"]

UNKNOWN = "unknown"  # a webhook refused before its event type could be read
OTHER = "other"  # an event type past the label budget (see _event_label)
MAX_EVENT_TYPES = 64  # distinct event_type labels a process keeps: a label set per value lives for ever
_EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,64}")
INTAKE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Instruments:
    """The process's metrics, made once."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram, disable_created_metrics

        # `_created` series are not written in multiprocess mode; leave them out in memory too, so a scrape
        # looks the same under `survey-bot serve` and in-process.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.webhooks: Counter = Counter(
            "survey_bot_webhooks", "Webhooks received, by event type and what became of them (processed, "
            "duplicate, ignored; refused: invalid_signature, invalid_payload, too_large, timeout, disconnected; "
            "error: not stored, answered 500).", ["event_type", "result"])
        self.intake_seconds: Histogram = Histogram(
            "survey_bot_webhook_intake_seconds", "Seconds from a stored webhook's full body to its answer: "
            "signature check, parsing and the group commit that holds it.", buckets=INTAKE_BUCKETS)
        self.commands: Counter = Counter(
            "survey_bot_commands", "Call-control commands handled by the dispatchers, by action and status (sent; "
            "failed: refused by Telnyx for good; retried: not sent now, due again later; skipped: the call had "
            "ended).", ["action", "status"])
        self.watchdog_actions: Counter = Counter(
            "survey_bot_watchdog_actions", "What the call watchdog did to calls that fell silent, by action.",
            ["action"])


@functools.cache
def instruments() -> Instruments:
    """This process's metrics (made, and prometheus_client imported, on first use)."""
    return Instruments()


_seen_event_types: set[str] = set()


def webhook(event_type: str, result: str) -> None:
    """Count one webhook and its result."""
    instruments().webhooks.labels(_event_label(event_type), result).inc()


def intake_seconds(seconds: float) -> None:
    """Observe how long one webhook took from its body to its answer."""
    instruments().intake_seconds.observe(seconds)


def command(action: str, status: str) -> None:
    """Count one command a dispatcher handled (after the transaction recording it committed)."""
    instruments().commands.labels(action, status).inc()


def watchdog_action(action: str) -> None:
    """Count one thing the call watchdog did (e.g. `hangup`)."""
    instruments().watchdog_actions.labels(action).inc()


def _event_label(event_type: str) -> str:
    """The event type as a label, within a budget: with --insecure-skip-verify anybody chooses the type, and every
    new value would be a series kept for ever."""
    if event_type in _seen_event_types:
        return event_type
    if len(_seen_event_types) >= MAX_EVENT_TYPES or not _EVENT_TYPE.fullmatch(event_type):
        return OTHER
    _seen_event_types.add(event_type)
    return event_type
