"""Requests a chaos run makes while the faults happen, as the unified window would.

Two loops, each on its own bus of the run: the billing's accounts of one customer
(``billing.accounts.requested.v1``, twice a second: how each ended), and the
window's whole scatter-gather (:class:`~window.view.ViewService` with its real
:class:`~window.gather.Gatherer`, asking the synchronizer, the CRM, the billing,
the documents and the PBX call store over the bus with deadlines): each view must
come back, whatever is down, with every section ``fresh``, ``cached`` or
``unavailable`` with its reason.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bus.app import Bus
from bus.errors import RequestTimeout, TransientError
from bus.settings import Settings
from window.identity import Identity
from window.settings import Deadlines, WindowSettings
from window.state import WindowState

__all__ = ["BILLING_CUSTOMER", "Views", "ask_billing", "billing_recovers", "views"]

BILLING_CUSTOMER = "10001"
"""The first holder of the billing simulator's built-in seed."""
DEADLINES = Deadlines(profile=3.0, crm=3.0, billing=3.0, documents=1.0, calls=3.0)
"""Wider than the window's defaults: two loaded cores, three processes dying."""


@dataclass
class Views:
    """How the unified views went: per section, how many were fresh/cached/unavailable."""

    count: int = 0
    slowest: float = 0.0
    sections: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, view: Mapping[str, Any], seconds: float) -> None:
        self.count += 1
        self.slowest = max(self.slowest, seconds)
        for name, section in view["sections"].items():
            self.sections.setdefault(name, Counter())[str(section["status"])] += 1


async def _billing_outcome(requester: Bus) -> str:
    reply = await requester.request("billing.accounts.requested.v1",
                                    {"customer_id": BILLING_CUSTOMER}, timeout=4.0)
    error = reply.payload.get("error")
    return str(error["code"]) if error else "ok"


async def ask_billing(settings: Settings, until: threading.Event) -> Counter[str]:
    """A customer's billing accounts, two a second until ``until`` is set: how each
    ended (ok, the billing's error code, timeout, broker)."""
    outcomes: Counter[str] = Counter()
    requester = Bus(settings, source="window")
    await requester.start()
    try:
        while not until.is_set():
            try:
                outcomes[await _billing_outcome(requester)] += 1
            except RequestTimeout:
                outcomes["timeout"] += 1
            except TransientError:
                outcomes["broker"] += 1
            await asyncio.sleep(0.5)
    finally:
        await requester.stop()
        requester.close()
    return outcomes


async def billing_recovers(settings: Settings, timeout: float) -> list[str]:
    """Ask the billing every second until it answers ``ok`` (its breaker lets a probe
    through after ``breaker_reset`` seconds); every outcome, in order."""
    requester = Bus(settings, source="window")
    await requester.start()
    outcomes: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and outcomes[-1:] != ["ok"]:
            try:
                outcomes.append(await _billing_outcome(requester))
            except RequestTimeout:
                outcomes.append("timeout")
            await asyncio.sleep(1.0)
    finally:
        await requester.stop()
        requester.close()
    return outcomes


async def views(settings: Settings, queries: Sequence[Mapping[str, str]], per_second: float,
                until: threading.Event) -> Views:
    """The window's aggregated view of each customer of ``queries`` in turn (``phone=…``,
    ``account=…`` or ``inn=…``, as ``/v1/customers/lookup`` takes), at ``per_second``,
    until ``until`` is set."""
    seen = Views()
    if per_second <= 0 or not queries:
        return seen
    requester = Bus(settings, source="window")

    async def request(type: str, payload: Mapping[str, Any], timeout: float
                      ) -> Mapping[str, Any]:
        return (await requester.request(type, payload, timeout=timeout)).payload

    window = WindowState.build(WindowSettings(deadlines=DEADLINES), request)
    await requester.start()
    try:
        number = 0
        while not until.is_set():
            query = queries[number % len(queries)]
            number += 1
            began = time.monotonic()
            view = await window.views.view(query, Identity.from_query(**query),
                                           use_cache=False)
            seen.add(view, time.monotonic() - began)
            await asyncio.sleep(max(0.0, 1.0 / per_second - (time.monotonic() - began)))
    finally:
        await requester.stop()
        requester.close()
    return seen
