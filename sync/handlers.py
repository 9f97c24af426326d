"""The synchronizer on the bus: the incremental consumer and the customer look-up.

``sync.changes`` takes every ``*.changed.v1`` of the CRM, billing and docflow
(``ordered``: one consumer at a time across processes, so changes apply in
order) and hands it to :meth:`SyncService.apply`; a repeated message stores
nothing new and publishes nothing. ``sync.customer.requested.v1`` is answered
from the xref and golden records.
"""

from __future__ import annotations

from typing import Any

from bus.envelope import Envelope
from bus.errors import SchemaViolation
from bus.router import Router
from sync.canonical import CHANGE_TYPES, record_of_change
from sync.hold import CHANGES
from sync.lookup import answer
from sync.partition import worker_router
from sync.service import SyncService

__all__ = ["apply_change", "customer_requested", "router"]

router = Router(source="sync")
router.include(worker_router)  # every synchronizer process is also a match worker


@router.subscriber(CHANGES, *sorted(CHANGE_TYPES), ordered=True)
def apply_change(envelope: Envelope, service: SyncService) -> None:
    """Upsert the changed record, re-match its neighbourhood, publish what changed."""
    try:
        change = record_of_change(envelope.type, envelope.payload)
    except (KeyError, ValueError) as error:
        raise SchemaViolation(f"payload: {error}", message_id=envelope.id) from None
    service.apply(change, cause=envelope, raw=envelope.payload)


@router.responder("sync.customer.requested.v1", "sync.customer.replied.v1")
def customer_requested(payload: dict[str, Any], service: SyncService) -> dict[str, Any]:
    """A customer's golden record and xref by one key."""
    with service.engine.connect() as connection:
        return answer(connection, payload)
