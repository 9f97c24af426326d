"""The CRM adapter's bus handlers: call logging, results and notes, click-to-call
outcomes, customer look-ups and cards.

Each gets the profile's :class:`~adapters.crm.gateway.CrmGateway` (our REST
dialect or Bitrix24) and the :class:`~adapters.crm.settings.CrmSettings`
injected (``Adapter.provide``), so each is a plain async function in a unit test.

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
from adapters.crm.gateway import CrmGateway, NotFound
from adapters.crm.settings import CrmSettings
from bus.adapters.replies import failure
from bus.context import Context
from bus.delivery.idempotency import AlreadyProcessed
from bus.envelope import Envelope
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable
from bus.router import Router

__all__ = ["annotate_call", "create_lead", "find_customers", "log_call", "pop_call_card",
           "read_card", "record_originate", "router"]

log = logging.getLogger(__name__)

router = Router(source="crm")

LOGGED = "crm.interaction.logged.v1"


@router.subscriber("crm.call-log", "pbx.call.ended.v1")
async def log_call(
    envelope: Envelope, context: Context, crm: CrmGateway, settings: CrmSettings,
) -> None:
    """Write an ended call into the CRM's interaction history, once per call (linkedid)."""
    call = envelope.payload
    if call.get("direction") == "internal":
        log.debug("call %s is internal: not logged in the CRM", call.get("linkedid"))
        return
    found = None
    phone = mapping.call_phone(call, settings.region)
    if phone is not None:
        matches = await crm.find_by_phone(phone)
        owned = [m for m in matches if m.get("manager_id")] or matches
        if owned:
            found = owned[0]
    logged = mapping.call_interaction(call, found)
    created = await crm.log_call(logged)
    if mapping.is_missed(call) and logged["customer_id"] and logged["manager_id"]:
        await crm.create_callback(logged, settings.callback_due_minutes)
        log.info("call %s missed: call-back task for manager %s", call["linkedid"],
                 logged["manager_id"])
    await _publish_once(context, logged, created)


def _ledger_key(interaction_id: str) -> str:
    if len(interaction_id) > 64:
        return "call-" + hashlib.sha256(interaction_id.encode()).hexdigest()[:40]
    return interaction_id


async def _publish_once(context: Context, logged: dict[str, Any], created: bool) -> None:
    key = _ledger_key(logged["id"])

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
async def find_customers(payload: dict[str, Any], crm: CrmGateway) -> dict[str, Any]:
    """Customers by phone, INN or CRM id, with their responsible manager, live from the CRM."""
    try:
        if payload.get("customer_id"):
            found = [await crm.get_customer(str(payload["customer_id"]))]
        elif payload.get("phone"):
            found = await crm.find_by_phone(str(payload["phone"]))
        elif payload.get("inn"):
            found = await crm.find_by_inn(str(payload["inn"]))
        else:
            return {"customers": [], "error": {
                "code": "rejected", "message": "the CRM finds customers by phone, INN or id"}}
    except NotFound:
        found = []
    except (ExternalSystemUnavailable, ExternalSystemRejected) as error:
        return {"customers": [], "error": failure(error)}
    customers = found[: int(payload.get("limit") or 100)]
    if not customers:
        return {"customers": [], "error": {"code": "not_found",
                                           "message": "no customer matches in the CRM"}}
    return {"customers": customers}


@router.responder("crm.card.requested.v1", "crm.card.replied.v1")
async def read_card(payload: dict[str, Any], crm: CrmGateway) -> dict[str, Any]:
    """The CRM card of a customer by phone or CRM id: manager, segment, open deals/requests,
    last interactions."""
    limit = int(payload.get("interactions_limit", 10))
    try:
        customer_id = payload.get("customer_id")
        if not customer_id and payload.get("phone"):
            matches = await crm.find_by_phone(str(payload["phone"]))
            owned = [m for m in matches if m.get("manager_id")] or matches
            customer_id = owned[0]["id"] if owned else None
        if not customer_id:
            return {"card": None, "error": {"code": "not_found",
                                            "message": "no customer has this number in the CRM"}}
        return {"card": await crm.card(str(customer_id), limit), "error": None}
    except NotFound:
        return {"card": None, "error": {"code": "not_found",
                                        "message": "no such customer in the CRM"}}
    except (ExternalSystemUnavailable, ExternalSystemRejected) as error:
        return {"card": None, "error": failure(error)}


class CallNotLoggedYet(ExternalSystemUnavailable):
    """The result/notes of a call came before the call's log: retried later."""


@router.subscriber("crm.call-annotations", "crm.interaction.annotated.v1")
async def annotate_call(envelope: Envelope, crm: CrmGateway) -> None:
    """Write an operator's result and notes into the call's interaction in the CRM."""
    try:
        await crm.annotate(dict(envelope.payload))
    except NotFound:
        raise CallNotLoggedYet(
            f"call {envelope.payload['call_id']} is not in the CRM yet") from None
    log.info("call %s annotated: %s", envelope.payload["call_id"], envelope.payload["result"])


@router.subscriber("crm.click-to-call-results", "pbx.originate.replied.v1")
async def record_originate(envelope: Envelope, crm: CrmGateway) -> None:
    """Note a click-to-call's outcome on the CRM side, once per request."""
    if (envelope.payload.get("requested_by") or {}).get("system") not in (None, "crm"):
        return  # asked by another system (the operator page): not the CRM's business
    await crm.record_originate(dict(envelope.payload),
                               key=f"click-to-call-{envelope.causation_id or envelope.id}")


@router.subscriber("crm.leads", "crm.lead.requested.v1")
async def create_lead(envelope: Envelope, context: Context, crm: CrmGateway) -> None:
    """A lead for a new caller with the routed manager responsible (auto-assign), published
    back as ``crm.customer.changed.v1``."""
    customer, created = await crm.create_lead(dict(envelope.payload))
    await context.publish("crm.customer.changed.v1",
                          {"change": "created" if created else "updated", "customer": customer},
                          key=customer["id"])


@router.subscriber("crm.call-cards", "pbx.call.ringing.v1", concurrency=8)
async def pop_call_card(envelope: Envelope, crm: CrmGateway) -> None:
    """Show the ringing call's card in the CRM to the agents whose phones ring (Bitrix24)."""
    await crm.call_ringing(dict(envelope.payload))
