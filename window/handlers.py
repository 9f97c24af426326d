"""The window's subscriptions: change events drop cached answers; calls pop.

Both keep per-process memory, so they are not idempotent-tracked (nothing to
do twice) and never retried: a lost invalidation only costs a TTL.
"""

from __future__ import annotations

import logging

from bus.delivery.retry import RetryPolicy
from bus.envelope import Envelope
from bus.router import Router
from window.identity import Identity
from window.invalidation import INVALIDATING_TYPES, stale_by
from window.state import WindowState

__all__ = ["DIRECTORY_TYPES", "SCREEN_POP_TYPES", "router"]

log = logging.getLogger(__name__)

router = Router(source="window")

SCREEN_POP_TYPES = ("pbx.call.ringing.v1", "pbx.call.answered.v1", "pbx.call.ended.v1")
DIRECTORY_TYPES = ("crm.customer.changed.v1", "crm.manager.changed.v1",
                   "sync.customer.updated.v1")
_ONCE = RetryPolicy(max_attempts=1, delays=())


@router.subscriber("window.changes", *INVALIDATING_TYPES, idempotent=False, concurrency=8,
                   retry=_ONCE, per_instance=True)
async def on_change(envelope: Envelope, window: WindowState) -> None:
    """Drop the cached answers a change makes stale; keep the screen-pop directory current."""
    sections, tags = stale_by(envelope.type, envelope.payload)
    if tags:
        window.cache.invalidate(tags, sections)
    if envelope.type in DIRECTORY_TYPES:
        remember(envelope, window)


def remember(envelope: Envelope, window: WindowState) -> None:
    payload = envelope.payload
    change = payload.get("change")
    if envelope.type == "crm.manager.changed.v1":
        manager = payload["manager"]
        if change == "deleted":
            window.directory.forget_manager(str(manager["id"]))
        else:
            window.directory.remember_manager(manager)
    elif envelope.type == "crm.customer.changed.v1":
        customer = payload["customer"]
        if change == "deleted":
            window.directory.forget([f"crm:{customer['id']}"])
        else:
            window.directory.remember_customer(customer, "crm")
    else:  # sync.customer.updated.v1: the golden record and the records it joins
        customer = {**payload["customer"], "id": payload["golden_id"]}
        sources = Identity(records={str(source["system"]): str(source["id"])
                                    for source in payload.get("sources") or ()})
        window.directory.remember_customer(customer, "sync", extra=sources)


@router.subscriber("window.screen-pop", *SCREEN_POP_TYPES, idempotent=False, concurrency=32,
                   retry=_ONCE, per_instance=True)
async def on_call(envelope: Envelope, window: WindowState) -> None:
    """Push the caller's card to the ringing agents; tell them when it is answered or ends."""
    if envelope.type == "pbx.call.ringing.v1":
        await window.screen_pop.ringing(envelope.payload, envelope.occurred_at.isoformat())
    elif envelope.type == "pbx.call.answered.v1":
        await window.screen_pop.answered(envelope.payload)
    else:
        await window.screen_pop.ended(envelope.payload)
