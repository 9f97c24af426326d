"""What a chaos run publishes, and how: mixed traffic at an even pace, resent whole
when a broker in trouble refuses a batch; and whom its unified views look up."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

from bus.app import Bus
from bus.envelope import Envelope
from bus.errors import TransientError
from bus.settings import Settings
from tests.chaos.chaos_worker import WORK_TYPE
from tests.chaos.plan import ChaosPlan, call_ended

__all__ = ["BATCH", "mixed", "publish", "view_queries"]

BATCH = 100


def mixed(plan: ChaosPlan, rng: random.Random, sync_events: Sequence[Envelope]
          ) -> list[Envelope]:
    """Work (1 % poison) and canonical calls shuffled, the synchronizer's changes spread
    over them in their own order."""
    work = [Envelope(type=WORK_TYPE, source="chaos-test",
                     payload={"n": str(i), "poison": "yes" if i % 100 == 37 else "no"})
            for i in range(plan.messages)]
    calls = [call_ended(i, rng) for i in range(plan.calls)]
    shuffled = work + calls
    rng.shuffle(shuffled)
    places = sorted(rng.randrange(len(shuffled) + 1) for _ in sync_events)
    merged: list[Envelope] = []
    start = 0
    for place, change in zip(places, sync_events, strict=True):
        merged.extend(shuffled[start:place])
        merged.append(change)
        start = place
    merged.extend(shuffled[start:])
    return merged


async def publish(settings: Settings, envelopes: list[Envelope], seconds: float,
                  started: float) -> int:
    """Publish in batches at an even pace over ``seconds`` from ``started`` (monotonic);
    a batch refused by a broker in trouble is sent again (whole: its consumers must skip
    the copies). How many batches were resent."""
    resent = 0
    batches = [envelopes[i:i + BATCH] for i in range(0, len(envelopes), BATCH)]
    pause = seconds / max(len(batches), 1)
    publisher = Bus(settings, source="chaos")
    await publisher.start(consume=False)  # it reconnects by itself after a broker restart
    try:
        for number, batch in enumerate(batches):
            due = started + number * pause
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            for attempt in range(60):
                try:
                    await publisher.publish_many(batch)
                    break
                except TransientError:
                    resent += attempt == 0
                    await asyncio.sleep(1.0)
            else:
                raise AssertionError(f"batch {number} could not be published in 60 s")
    finally:
        await publisher.stop()
        publisher.close()
    return resent


def view_queries(sync_events: Sequence[Envelope]) -> list[dict[str, str]]:
    """Whom the unified views look up: the billing simulator's first holder by phone, then
    customers of the synchronizer's traffic by a CRM phone or a billing account number."""
    queries: list[dict[str, str]] = [{"phone": "+79123456789"}]
    for event in sync_events[:200]:
        customer = event.payload.get("customer") or {}
        phones = [c["phone"] for c in customer.get("contacts") or () if c.get("phone")]
        if event.type == "crm.customer.changed.v1" and phones:
            queries.append({"phone": phones[0]})
        elif event.type == "billing.account.changed.v1":
            queries.append({"account": event.payload["account"]["number"]})
    return queries
