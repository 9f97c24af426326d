"""What a bus declares, for the operations API and ``esb topology``: queues, bindings,
dead-letter queues, retry tiers and handlers, with live depths where the broker answers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bus.observability import QUEUE_STATS_TIMEOUT
from bus.transport import QueueStats, dead_letter_queue

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["describe_topology"]


async def describe_topology(bus: Bus, paused: frozenset[str]) -> dict[str, Any]:
    """Every subscription's queue as declared; ``paused``: the subscriptions paused."""
    specs = [bus.queue_spec(subscription) for subscription in bus.subscriptions]
    answers: Mapping[str, QueueStats | Exception] = {}
    if bus.running and specs:
        try:
            answers = await asyncio.wait_for(
                bus.transport.queue_stats_many([spec.name for spec in specs]),
                QUEUE_STATS_TIMEOUT)
        except Exception as error:
            answers = dict.fromkeys((spec.name for spec in specs), error)
    queues = []
    for subscription, spec in zip(bus.subscriptions, specs, strict=True):
        entry: dict[str, Any] = {
            "queue": spec.name, "bindings": list(spec.bindings),
            "dead_letter_queue": dead_letter_queue(spec.name),
            "retry_delays": list(spec.retry_delays), "quorum": spec.quorum,
            "handler": getattr(subscription.handler, "__qualname__", ""),
            "idempotent": subscription.idempotent, "concurrency": subscription.concurrency,
            "ordered": subscription.ordered,
            "per_instance": subscription.per_instance,
            "reply_type": subscription.reply_type,
            "paused": subscription.name in paused,
        }
        stats = answers.get(spec.name)
        if isinstance(stats, QueueStats):
            entry.update(messages=stats.messages, consumers=stats.consumers)
        elif stats is not None:
            entry["stats_error"] = str(stats) or type(stats).__name__
        queues.append(entry)
    return {"transport": bus.transport.describe(), "exchange": bus.settings.exchange,
            "exchange_type": "topic", "queues": queues}
