"""Bus metrics in the Prometheus text format, optionally mirrored into OpenTelemetry.

Each :class:`Metrics` has its own ``CollectorRegistry`` (never the global
one), so that two buses in one process, or two tests, never collide.

========================================  =========  ==========================
metric                                    kind       labels
========================================  =========  ==========================
``esb_messages_published_total``          counter    ``type``
``esb_messages_consumed_total``           counter    ``subscription``, ``outcome``
``esb_handler_duration_seconds``          histogram  ``subscription``
``esb_queue_depth``                       gauge      ``queue`` (read at scrape time)
``esb_journal_records_written_total``     counter
``esb_journal_records_dropped_total``     counter
========================================  =========  ==========================
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Metrics", "Outcome", "QueueDepthSource"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``Content-Type`` to serve :meth:`Metrics.render` with."""

Outcome = Literal["processed", "retried", "dead_lettered", "duplicate", "rejected"]
QueueDepthSource = Callable[[], Mapping[str, int]]
"""Returns the current depth of each queue; called at every scrape, so keep it cheap."""

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                   30.0)

log = logging.getLogger(__name__)


class _QueueDepthCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "esb_queue_depth", "Messages waiting in a queue", labels=["queue"]
        )
        for queue, depth in sorted(self._metrics.queue_depths().items()):
            family.add_metric([queue], float(depth))
        yield family


class Metrics:
    """The bus's counters, histograms and gauges.

    ``meter``: an OpenTelemetry meter to mirror every measurement into (for
    an OTLP metrics pipeline); Prometheus stays the primary exposition.
    """

    def __init__(self, *, meter: Meter | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._published = Counter(
            "esb_messages_published", "Messages published, by type", ["type"],
            registry=self.registry,
        )
        self._consumed = Counter(
            "esb_messages_consumed", "Messages consumed, by subscription and outcome",
            ["subscription", "outcome"], registry=self.registry,
        )
        self._latency = Histogram(
            "esb_handler_duration_seconds", "Time a subscription's handler took",
            ["subscription"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self._journal_written = Counter(
            "esb_journal_records_written", "Journal records written to SQL",
            registry=self.registry,
        )
        self._journal_dropped = Counter(
            "esb_journal_records_dropped",
            "Journal records dropped (buffer full or unwritable)", registry=self.registry,
        )
        self._depth_lock = threading.Lock()
        self._depths: dict[str, int] = {}
        self._depth_sources: list[QueueDepthSource] = []
        self._children: dict[tuple[str, str], Any] = {}
        """Labelled children, looked up once: ``labels()`` costs more than ``inc()``."""
        self.registry.register(_QueueDepthCollector(self))
        self._otel = _OtelMirror(meter, self) if meter is not None else None

    # recording

    def message_published(self, type: str, count: int = 1) -> None:
        child = self._children.get(("published", type))
        if child is None:
            child = self._children[("published", type)] = self._published.labels(type)
        child.inc(count)
        if self._otel:
            self._otel.published.add(count, {"type": type})

    def message_consumed(
        self, subscription: str, outcome: Outcome, duration: float | None = None
    ) -> None:
        """One settled delivery; ``duration`` (seconds) feeds the handler latency histogram."""
        child = self._children.get((subscription, outcome))
        if child is None:
            child = self._children[(subscription, outcome)] = self._consumed.labels(
                subscription, outcome)
        child.inc()
        if duration is not None:
            latency = self._children.get((subscription, ""))
            if latency is None:
                latency = self._children[(subscription, "")] = self._latency.labels(subscription)
            latency.observe(duration)
        if self._otel:
            attributes = {"subscription": subscription, "outcome": outcome}
            self._otel.consumed.add(1, attributes)
            if duration is not None:
                self._otel.latency.record(duration, {"subscription": subscription})

    def journal_written(self, count: int) -> None:
        self._journal_written.inc(count)
        if self._otel:
            self._otel.journal_written.add(count)

    def journal_dropped(self, count: int = 1) -> None:
        self._journal_dropped.inc(count)
        if self._otel:
            self._otel.journal_dropped.add(count)

    # queue depth

    def set_queue_depth(self, queue: str, depth: int) -> None:
        """Remember a depth measured elsewhere (a periodic task asking the transport)."""
        with self._depth_lock:
            self._depths[queue] = depth

    def add_queue_depth_source(self, source: QueueDepthSource) -> None:
        """Register a callback read at every scrape; its values win over ``set_queue_depth``."""
        with self._depth_lock:
            self._depth_sources.append(source)

    def queue_depths(self) -> dict[str, int]:
        with self._depth_lock:
            depths = dict(self._depths)
            sources = list(self._depth_sources)
        for source in sources:
            try:
                depths.update(source())
            except Exception:
                log.exception("a queue depth source failed; its queues are left out")
        return depths

    # exposition

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (serve with :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)


class _OtelMirror:
    def __init__(self, meter: Meter, metrics: Metrics) -> None:
        self.published = meter.create_counter(
            "esb.messages.published", unit="{message}", description="Messages published"
        )
        self.consumed = meter.create_counter(
            "esb.messages.consumed", unit="{message}", description="Messages consumed"
        )
        self.latency = meter.create_histogram(
            "esb.handler.duration", unit="s", description="Time a subscription's handler took"
        )
        self.journal_written = meter.create_counter(
            "esb.journal.records.written", unit="{record}", description="Journal records written"
        )
        self.journal_dropped = meter.create_counter(
            "esb.journal.records.dropped", unit="{record}", description="Journal records dropped"
        )

        def observe_depths(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(depth, {"queue": queue})
                    for queue, depth in metrics.queue_depths().items()]

        meter.create_observable_gauge(
            "esb.queue.depth", callbacks=[observe_depths], unit="{message}",
            description="Messages waiting in a queue",
        )
