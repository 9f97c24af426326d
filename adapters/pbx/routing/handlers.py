"""Routing on the bus: the request-reply responder and the events that keep its state."""

from __future__ import annotations

from typing import Any

from adapters.pbx.routing.service import RoutingService
from bus.envelope import Envelope
from bus.router import Router

__all__ = ["ROUTING_CONSUMES", "ROUTING_PUBLISHES", "router"]

ROUTING_CONSUMES = ("pbx.route.requested.v1", "pbx.agent.presence.v1", "crm.customer.changed.v1",
                    "sync.customer.updated.v1", "crm.manager.changed.v1")
ROUTING_PUBLISHES = ("pbx.route.decided.v1", "crm.lead.requested.v1", "crm.customer.requested.v1")

router = Router(source="pbx")


@router.responder("pbx.route.requested.v1", "pbx.route.decided.v1", name="pbx-routing",
                  concurrency=16)
async def decide_route(envelope: Envelope, routing: RoutingService) -> dict[str, Any]:
    """Where an incoming call should ring, decided from local state within the deadline."""
    payload = envelope.payload
    request = routing.request_of(str(payload["linkedid"]), payload.get("caller_number"),
                                 payload.get("called_number"))
    decision = await routing.route(request, cause=envelope)
    return decision.to_payload()


@router.subscriber("pbx-routing-presence", "pbx.agent.presence.v1", idempotent=False,
                   per_instance=True)
async def presence_changed(payload: dict[str, Any], routing: RoutingService) -> None:
    """An agent's device state, queue login or pause, for routing's presence board."""
    routing.observe_presence([payload])


@router.subscriber("pbx-routing-customers", "crm.customer.changed.v1",
                   "sync.customer.updated.v1", idempotent=False, per_instance=True)
async def customer_changed(envelope: Envelope, routing: RoutingService) -> None:
    """Who owns a phone number: customer, segment and responsible manager."""
    await routing.customer_changed(envelope)


@router.subscriber("pbx-routing-managers", "crm.manager.changed.v1", idempotent=False,
                   per_instance=True)
async def manager_changed(payload: dict[str, Any], routing: RoutingService) -> None:
    """The managers directory: extension, queues (groups), active."""
    await routing.manager_changed(payload)
