"""Live flow rates, computed from the counters the bus already keeps.

The bus counts every publish by type and every settled delivery by
subscription and outcome (:class:`bus.telemetry.Metrics`, the same numbers
``/metrics`` exposes to Prometheus). :class:`FlowSampler` reads those counters
every ``sample_interval`` seconds and keeps the last ``history`` readings; a
rate is the difference of two readings divided by the time between them. So
the console needs no hook in the hot path and never disagrees with Prometheus.

The counters are this process's: with several bus processes, each one's
``/v1/flows`` shows its own share (Prometheus sums them), and the
``journal`` section of the route (:mod:`console.journal_window`) the whole
deployment's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bus.telemetry import Metrics

__all__ = ["ERROR_OUTCOMES", "FlowSampler", "Reading", "read_counters"]

ERROR_OUTCOMES = ("dead_lettered", "rejected")
"""Outcomes that count as errors: the message left the normal flow."""


@dataclass(frozen=True, slots=True)
class Reading:
    """The bus's cumulative counters at one moment."""

    at: float
    """Wall-clock time (Unix seconds), for the charts' time axis."""
    monotonic: float
    """For the intervals between readings."""
    published: dict[str, float] = field(default_factory=dict)
    """Messages published, by type."""
    consumed: dict[tuple[str, str], float] = field(default_factory=dict)
    """Settled deliveries, by (subscription, outcome)."""
    handler_seconds: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Handler time, by subscription: (sum of seconds, count)."""

    def subscriptions(self) -> set[str]:
        return {subscription for subscription, _ in self.consumed} | set(self.handler_seconds)


def read_counters(metrics: Metrics, *, at: float | None = None) -> Reading:
    """One reading of ``metrics`` (its Prometheus registry, as a scrape sees it)."""
    reading = Reading(at=time.time() if at is None else at, monotonic=time.monotonic())
    latency_sums: dict[str, float] = {}
    latency_counts: dict[str, float] = {}
    for family in metrics.registry.collect():
        if family.name == "esb_messages_published":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    reading.published[sample.labels["type"]] = sample.value
        elif family.name == "esb_messages_consumed":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    key = (sample.labels["subscription"], sample.labels["outcome"])
                    reading.consumed[key] = sample.value
        elif family.name == "esb_handler_duration_seconds":
            for sample in family.samples:
                subscription = sample.labels.get("subscription", "")
                if sample.name.endswith("_sum"):
                    latency_sums[subscription] = sample.value
                elif sample.name.endswith("_count"):
                    latency_counts[subscription] = sample.value
    for subscription, total in latency_sums.items():
        reading.handler_seconds[subscription] = (total, latency_counts.get(subscription, 0.0))
    return reading


def _rate(later: Mapping[Any, float], earlier: Mapping[Any, float], key: Any,
          seconds: float) -> float:
    if seconds <= 0:
        return 0.0
    return max(0.0, later.get(key, 0.0) - earlier.get(key, 0.0)) / seconds


def _outcomes(reading: Reading) -> set[str]:
    return {outcome for _, outcome in reading.consumed}


def subscription_rates(later: Reading, earlier: Reading) -> dict[str, dict[str, Any]]:
    """Per subscription: processed, retried, error and duplicate rates, totals, mean latency."""
    seconds = later.monotonic - earlier.monotonic
    rates: dict[str, dict[str, Any]] = {}
    for subscription in sorted(later.subscriptions()):
        def rate(outcome: str, sub: str = subscription) -> float:
            return _rate(later.consumed, earlier.consumed, (sub, outcome), seconds)

        totals = {outcome: int(later.consumed.get((subscription, outcome), 0.0))
                  for outcome in sorted(_outcomes(later))}
        sum_now, count_now = later.handler_seconds.get(subscription, (0.0, 0.0))
        sum_then, count_then = earlier.handler_seconds.get(subscription, (0.0, 0.0))
        handled = count_now - count_then
        rates[subscription] = {
            "subscription": subscription,
            "rate": rate("processed"),
            "retry_rate": rate("retried"),
            "error_rate": sum(rate(outcome) for outcome in ERROR_OUTCOMES),
            "duplicate_rate": rate("duplicate"),
            "totals": {name: count for name, count in totals.items() if count},
            "latency_ms": (sum_now - sum_then) / handled * 1000 if handled > 0 else None,
        }
    return rates


def type_rates(later: Reading, earlier: Reading) -> dict[str, dict[str, Any]]:
    """Per message type: publish rate and total."""
    seconds = later.monotonic - earlier.monotonic
    return {
        type_: {"type": type_, "rate": _rate(later.published, earlier.published, type_, seconds),
                "published_total": int(later.published[type_])}
        for type_ in sorted(later.published)
    }


def totals(later: Reading, earlier: Reading) -> dict[str, float]:
    """Bus-wide rates: published, processed, retried, errors per second."""
    seconds = later.monotonic - earlier.monotonic
    if seconds <= 0:
        return {"published": 0.0, "processed": 0.0, "retried": 0.0, "errors": 0.0}

    def consumed(outcomes: Iterable[str]) -> float:
        wanted = set(outcomes)
        now = sum(v for (_, o), v in later.consumed.items() if o in wanted)
        then = sum(v for (_, o), v in earlier.consumed.items() if o in wanted)
        return max(0.0, now - then) / seconds

    published = max(0.0, sum(later.published.values()) - sum(earlier.published.values()))
    return {"published": published / seconds, "processed": consumed(["processed"]),
            "retried": consumed(["retried"]), "errors": consumed(ERROR_OUTCOMES)}


class FlowSampler:
    """Reads the counters periodically and answers with current rates and their history."""

    def __init__(self, metrics: Metrics, *, interval: float = 1.0, history: int = 120,
                 rate_window: float = 5.0) -> None:
        self.metrics = metrics
        self.interval = interval
        self.rate_window = rate_window
        self._readings: deque[Reading] = deque(maxlen=history)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def sample(self) -> Reading:
        reading = read_counters(self.metrics)
        self._readings.append(reading)
        return reading

    def start(self) -> None:
        if self._task is None:
            self.sample()
            self._task = asyncio.create_task(self._run(), name="console-flow-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.sample()

    def snapshot(self) -> dict[str, Any]:
        """Rates over the last ``rate_window`` seconds (up to now), and the charts' series."""
        now = read_counters(self.metrics)
        earlier = self._reading_before(now.monotonic - self.rate_window) or now
        return {
            "at": now.at,
            "window_seconds": round(now.monotonic - earlier.monotonic, 3),
            "totals": totals(now, earlier),
            "types": list(type_rates(now, earlier).values()),
            "subscriptions": list(subscription_rates(now, earlier).values()),
            "history": self.history(),
        }

    def history(self) -> dict[str, Any]:
        """Per interval between readings: bus-wide rates, per type and per subscription."""
        readings = list(self._readings)
        series: dict[str, Any] = {"t": [], "published": [], "processed": [], "retried": [],
                                  "errors": [], "types": {}, "subscriptions": {}}
        pairs = list(itertools.pairwise(readings))
        for index, (earlier, later) in enumerate(pairs):
            series["t"].append(round(later.at, 3))
            for name, value in totals(later, earlier).items():
                series[name].append(round(value, 3))
            for type_, entry in type_rates(later, earlier).items():
                points = series["types"].setdefault(type_, [0.0] * index)
                points.append(round(entry["rate"], 3))
            for subscription, entry in subscription_rates(later, earlier).items():
                points = series["subscriptions"].setdefault(subscription, [0.0] * index)
                points.append(round(entry["rate"], 3))
        return series

    def _reading_before(self, moment: float) -> Reading | None:
        """The newest reading taken at or before ``moment``, else the oldest one."""
        chosen = None
        for reading in self._readings:
            if reading.monotonic <= moment:
                chosen = reading
            else:
                break
        if chosen is None and self._readings:
            chosen = self._readings[0]
        return chosen
