"""The CRM adapter's bus handlers: call logging and customer look-ups.

Both get the :class:`~adapters.crm.client.CrmClient` and the
:class:`~adapters.crm.settings.CrmSettings` injected (``Adapter.provide``), so
each is a plain async function in a unit test.

**Exactly once per call.** A ``pbx.call.ended.v1`` may arrive twice (a
redelivery: the bus's idempotent consumer skips it by envelope id) or as a new
envelope for the same call (an AMI reconnect re-publishing it). Every write is
therefore keyed by the call's linkedid: the call log is PUT under its external
id, the call-back task is created with an ``Idempotency-Key``, and
``crm.interaction.logged.v1`` is staged in the outbox in the same transaction
that records the interaction id as processed. A retry after a failure half-way
repeats the writes harmlessly and publishes what was not published yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import sqlalchemy as sa

from adapters.crm import mapping
from adapters.crm.client import CrmClient, NotFound
from adapters.crm.settings import CrmSettings
from bus.context import Context
from bus.delivery.idempotency import AlreadyProcessed
from bus.envelope import Envelope
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable
from bus.router import Router

__all__ = ["find_customers", "log_call", "router"]

log = logging.getLogger(__name__)

router = Router(source="crm")

LOGGED = "crm.interaction.logged.v1"


@router.subscriber("crm.call-log", "pbx.call.ended.v1")
async def log_call(
    envelope: Envelope, context: Context, client: CrmClient, settings: CrmSettings,
) -> None:
    """Write an ended call into the CRM's interaction history, once per call (linkedid)."""
    call = envelope.payload
    if call.get("direction") == "internal":
        log.debug("call %s is internal: not logged in the CRM", call.get("linkedid"))
        return
    found = None
    phone = mapping.call_phone(call, settings.region)
    if phone is not None:
        matches = await client.find_by_phone(phone)
        owned = [m for m in matches if m.get("manager")] or matches
        if owned:
            found = mapping.customer(owned[0], region=settings.region)
    logged = mapping.call_interaction(call, found)
    _stored, created = await client.put_interaction(mapping.crm_interaction(logged))
    if mapping.is_missed(call) and logged["customer_id"] and logged["manager_id"]:
        task = mapping.callback_task(logged, due_minutes=settings.callback_due_minutes)
        await client.create_task(task, key=f"callback-{logged['id']}")
        log.info("call %s missed: call-back task for manager %s", call["linkedid"],
                 logged["manager_id"])
    await _publish_once(context, logged, created)


async def _publish_once(context: Context, logged: dict[str, Any], created: bool) -> None:
    key = logged["id"]
    if len(key) > 64:
        key = "call-" + hashlib.sha256(key.encode()).hexdigest()[:40]

    def stage(connection: sa.Connection) -> None:
        context.stage(connection, LOGGED, logged)

    try:
        await asyncio.to_thread(
            context.bus.processed.run_once, f"{context.queue}#interactions", key, stage)
    except AlreadyProcessed:
        log.info("call %s was logged before (CRM record %s): nothing to publish",
                 logged["call_linkedid"], "new" if created else "existing")
        return
    context.bus.outbox_relay_poke()


@router.responder("crm.customer.requested.v1", "crm.customer.replied.v1")
async def find_customers(
    payload: dict[str, Any], client: CrmClient, settings: CrmSettings,
) -> dict[str, Any]:
    """Customers by phone, INN or CRM id, with their responsible manager, live from the CRM."""
    try:
        if payload.get("customer_id"):
            found = [await client.get_customer(str(payload["customer_id"]))]
        elif payload.get("phone"):
            found = await client.find_by_phone(str(payload["phone"]))
        elif payload.get("inn"):
            found = await client.find_by_inn(str(payload["inn"]))
        else:
            return {"customers": [], "error": {
                "code": "rejected", "message": "the CRM finds customers by phone, INN or id"}}
    except NotFound:
        found = []
    except ExternalSystemUnavailable as error:
        return {"customers": [], "error": {"code": "unavailable", "message": str(error)[:256]}}
    except ExternalSystemRejected as error:
        return {"customers": [], "error": {"code": "rejected", "message": str(error)[:256]}}
    customers = [mapping.customer(record, region=settings.region)
                 for record in found[: int(payload.get("limit") or 100)]]
    if not customers:
        return {"customers": [], "error": {"code": "not_found",
                                           "message": "no customer matches in the CRM"}}
    return {"customers": customers}
