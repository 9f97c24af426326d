"""``GET /v1/flows``: the live flows of the bus as JSON (what the console's charts draw)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request

from bus.adapters import AdapterHost
from bus.app import Bus
from bus.transport import dead_letter_queue
from console.flows import FlowSampler
from console.journal_window import journal_window

__all__ = ["flow_routes", "queue_stats"]

_STATS_TIMEOUT = 2.0


async def queue_stats(bus: Bus) -> dict[str, dict[str, Any]]:
    """Depth and consumer count of every subscription queue and its dead-letter queue
    (one batch question to the broker), and whether the subscription is paused."""
    names = [bus.queue_name(subscription) for subscription in bus.subscriptions]
    paused = {bus.queue_name(subscription) for subscription in bus.subscriptions
              if subscription.name in bus.paused}
    asked = [*names, *(dead_letter_queue(name) for name in names)]
    try:
        found = await asyncio.wait_for(bus.transport.queue_stats_many(asked), _STATS_TIMEOUT)
    except Exception as error:
        found = dict.fromkeys(asked, error)

    def one(name: str) -> dict[str, Any]:
        stats = found.get(name, LookupError(name))
        if isinstance(stats, Exception):
            return {"depth": None, "consumers": None, "error": f"{type(stats).__name__}: {stats}"}
        return {"depth": stats.messages, "consumers": stats.consumers}

    queues = {}
    for name in names:
        main, dead = one(name), one(dead_letter_queue(name))
        queues[name] = {"queue": name, "depth": main["depth"], "consumers": main["consumers"],
                        "dlq_depth": dead["depth"], "paused": name in paused,
                        **({"error": main["error"]} if "error" in main else {})}
    return queues


def _subscriptions(rates: list[dict[str, Any]], queues: dict[str, dict[str, Any]]
                   ) -> list[dict[str, Any]]:
    """Every subscription queue with its rates (zero when it has settled nothing yet)."""
    by_name = {entry["subscription"]: entry for entry in rates}
    merged = []
    for name in sorted(set(by_name) | set(queues)):
        entry = by_name.get(name) or {
            "subscription": name, "rate": 0.0, "retry_rate": 0.0, "error_rate": 0.0,
            "duplicate_rate": 0.0, "totals": {}, "latency_ms": None}
        stats = queues.get(name, {"depth": None, "consumers": None, "dlq_depth": None})
        merged.append({**entry, **{k: v for k, v in stats.items() if k != "queue"}})
    return merged


def flow_routes(sampler: FlowSampler) -> APIRouter:
    router = APIRouter(tags=["console"])

    @router.get("/v1/flows")
    async def flows(
        request: Request,
        journal_seconds: float = Query(60.0, gt=0, le=86400,
                                       description="the journal section's window"),
    ) -> dict[str, Any]:
        """Messages per second per type and per subscription, retry and error rates,
        queue depths and consumers, adapter health, and what the journal saw lately.

        Rates are this process's, over ``window_seconds``; ``history`` holds one
        point per sampling interval for the charts; ``journal`` counts the whole
        deployment's messages over ``journal_seconds``.
        """
        bus: Bus = request.app.state.bus
        host: AdapterHost = request.app.state.adapters
        snapshot = sampler.snapshot()
        queues = await queue_stats(bus) if bus.running else {}
        await host.refresh_health()
        journal = await asyncio.to_thread(journal_window, bus.engine, journal_seconds)
        snapshot["subscriptions"] = _subscriptions(snapshot["subscriptions"], queues)
        snapshot["adapters"] = [loaded.to_json() for loaded in host.adapters]
        snapshot["journal"] = journal
        return snapshot

    return router
