"""Where the bus reports what happens to messages: journal, metrics, traces.

One object per bus process, so the hot path makes one call per event and
the journal, the Prometheus counters and the spans never disagree.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa

from bus.envelope import Envelope
from bus.journal import Journal, JournalQuery
from bus.journal.retention import prune_journal
from bus.settings import Settings
from bus.telemetry import Metrics, Tracing
from bus.telemetry.meters import meter_provider
from bus.transport import dead_letter_queue

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["QUEUE_STATS_TIMEOUT", "Observability"]

log = logging.getLogger(__name__)

QUEUE_STATS_TIMEOUT = 5.0
"""Seconds to wait for the broker's answer about every queue at once (metrics, topology)."""

_OUTCOMES = {"processed", "retried", "dead_lettered", "duplicate", "rejected"}


class Observability:
    def __init__(self, settings: Settings, engine: sa.Engine, *, system: str = "rabbitmq") -> None:
        self.settings = settings
        self.engine = engine
        exported = meter_provider(settings.telemetry)
        self._meter_provider = exported[0] if exported else None
        self.metrics = Metrics(meter=exported[1] if exported else None)
        self.tracing = Tracing(settings.telemetry, system=system)
        self.journal: Journal | None = (
            Journal(engine, settings.journal, metrics=self.metrics)
            if settings.journal.enabled else None
        )
        self.query = JournalQuery(engine, settings.journal)

    def chores(self) -> list[tuple[str, Callable[[], int]]]:
        """Clean-ups for :class:`~bus.delivery.housekeeping.Housekeeping` (journal retention)."""
        if self.journal is None:
            return []
        days = self.settings.journal.retention_days
        return [("journal", lambda: prune_journal(self.engine, days))]

    def start(self) -> None:
        if self.journal is not None:
            self.journal.start()

    def stop(self) -> None:
        if self.journal is not None:
            self.journal.close()
        self.tracing.force_flush()
        if self._meter_provider is not None:
            self._meter_provider.shutdown()

    def published(self, envelope: Envelope, trace_id: str, at: float | None = None) -> None:
        self.metrics.message_published(envelope.type)
        if self.journal is not None:
            self.journal.record_published(envelope, trace_id, at)

    def published_many(self, envelopes: Sequence[Envelope], trace_ids: Sequence[str],
                       at: float | None = None) -> None:
        """A confirmed batch: one counter increment per message type, a journal row each."""
        per_type = Counter(envelope.type for envelope in envelopes)
        for message_type, count in per_type.items():
            self.metrics.message_published(message_type, count)
        if self.journal is not None:
            for envelope, trace_id in zip(envelopes, trace_ids, strict=True):
                self.journal.record_published(envelope, trace_id, at)

    def consumed(self, message_id: str, status: str, queue: str, attempt: int,
                 latency_ms: float, trace_id: str, detail: str) -> None:
        if status in _OUTCOMES:
            self.metrics.message_consumed(queue, status, latency_ms / 1000)  # type: ignore[arg-type]
        if self.journal is not None:
            self.journal.record(message_id, status, queue, attempt,  # type: ignore[arg-type]
                                latency_ms, detail or None, trace_id or None)

    async def refresh_queue_depths(self, bus: Bus) -> None:
        """Ask the broker, in one batch, for the depth of every subscription queue and its DLQ."""
        names: list[str] = []
        for subscription in bus.subscriptions:
            queue = bus.queue_name(subscription)
            names += [queue, dead_letter_queue(queue)]
        if not names:
            return
        try:
            answers = await asyncio.wait_for(bus.transport.queue_stats_many(names),
                                             QUEUE_STATS_TIMEOUT)
        except Exception as error:
            log.debug("queue depths unavailable: %s", error)
            return
        for name, stats in answers.items():
            if isinstance(stats, Exception):
                log.debug("queue depth of %s unavailable: %s", name, stats)
                continue
            self.metrics.set_queue_depth(name, stats.messages)
