"""One scrape: the processes' counters plus what the database says now, in Prometheus's text format.

Counters and the histogram come from every process of this server (the multiprocess files, see
observe.multiprocess) or, outside `survey-bot serve`, from this process's memory. The gauges describe the
store, not a process: they are read from the database for each scrape (reports.store_figures), so a scrape of
any worker on any host says the same. If the database cannot be read, the counters are still served and
`survey_bot_database_up` is 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from survey_bot.observe.metrics import instruments
from survey_bot.observe.multiprocess import multiprocess_mode

if TYPE_CHECKING:  # imported when used: see observe.metrics
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

__all__ = ["StoreFigures", "render"]


@dataclass(frozen=True)
class StoreFigures:
    """What the database says at scrape time (None: it could not be read)."""

    responses: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (form_id, status) -> responses
    calls_in_progress: int = 0
    outbox_open: int = 0  # commands not sent yet (pending, or being sent)
    outbox_lag_seconds: float = 0.0  # age of the oldest of them; 0 when there is none


class _StoreCollector:
    """The store's figures as gauge families (a collector for one scrape)."""

    def __init__(self, figures: StoreFigures | None) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import GaugeMetricFamily

        figures = self.figures
        yield GaugeMetricFamily("survey_bot_database_up", "1 if the database answered this scrape's queries.",
                                value=0 if figures is None else 1)
        if figures is None:
            return
        responses = GaugeMetricFamily("survey_bot_responses", "Responses in the database, by form and status.",
                                      labels=["form_id", "status"])
        for (form_id, status), count in sorted(figures.responses.items()):
            responses.add_metric([form_id, status], count)
        yield responses
        yield GaugeMetricFamily("survey_bot_calls_in_progress", "Calls whose response is still in progress.",
                                value=figures.calls_in_progress)
        yield GaugeMetricFamily("survey_bot_outbox_open_commands", "Commands in the outbox not sent yet.",
                                value=figures.outbox_open)
        yield GaugeMetricFamily("survey_bot_outbox_lag_seconds", "Age of the oldest command not sent yet "
                                "(0 when the outbox is empty).", value=figures.outbox_lag_seconds)


class _Scrape:
    """Everything one scrape shows, in order."""

    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def render(figures: StoreFigures | None, accept: str | None = None) -> tuple[bytes, str]:
    """The exposition (the format the scraper's Accept header asks for) and its content type."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.multiprocess import MultiProcessCollector

    instruments()  # (in memory, a metric shows once made, even before it moved)
    if multiprocess_mode():
        processes: Collector = MultiProcessCollector(CollectorRegistry())  # type: ignore[no-untyped-call]
    else:
        processes = REGISTRY
    encoder, content_type = choose_encoder(accept or "")
    return encoder(_Scrape(processes, _StoreCollector(figures))), content_type
