"""Click-to-call in: the CRM's signed webhook and our API -> ``pbx.originate.requested.v1``.

``POST /webhooks/click-to-call`` is signed like the customer webhooks
(:mod:`adapters.crm.webhooks`: ``X-CRM-Timestamp``, ``X-CRM-Signature``) with the
body ``{"event": "call.requested", "agent_extension": "2001", "number": "+7…",
"user_id": "17", "entity": {"type": "contact", "id": "C-1001"}}``.
``POST /click-to-call`` takes the canonical request (``agent_extension``,
``number``, optional ``requested_by`` and ``crm_entity``) from our own faces.
Both answer ``202`` with the request's envelope id: the PBX adapter rings the
agent and publishes ``pbx.originate.replied.v1``, which the CRM adapter then
records on the CRM side (:func:`adapters.crm.handlers.record_originate`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request

from adapters.crm.webhooks import WebhookVerifier, accept_signed
from bus.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["ORIGINATE_REQUESTED", "click_to_call_router", "originate_request"]

ORIGINATE_REQUESTED = "pbx.originate.requested.v1"
ENTITY_TYPES = frozenset({"contact", "company", "lead", "deal", "customer"})


def originate_request(body: dict[str, Any], *, system: str = "crm") -> dict[str, Any]:
    """A CRM click-to-call webhook body as a ``pbx.originate.requested.v1`` payload."""
    if body.get("event", "call.requested") != "call.requested":
        raise ValueError(f"not a click-to-call event: {body.get('event')!r}")
    request: dict[str, Any] = {
        "agent_extension": str(body["agent_extension"]),
        "number": str(body["number"]).replace(" ", ""),
        "requested_by": {"system": system,
                         "user_id": str(body["user_id"]) if body.get("user_id") else None},
    }
    entity = body.get("entity")
    if isinstance(entity, dict) and entity.get("type") in ENTITY_TYPES and entity.get("id"):
        request["crm_entity"] = {"type": entity["type"], "id": str(entity["id"])}
    return request


def click_to_call_router(bus: Bus, verifier: WebhookVerifier, *,
                         source: str = "crm") -> APIRouter:
    """``POST /webhooks/click-to-call`` (signed) and ``POST /click-to-call`` on ``bus``."""
    router = APIRouter(tags=["crm"])

    async def publish(request: dict[str, Any]) -> dict[str, Any]:
        envelope = await bus.emit(ORIGINATE_REQUESTED, request, key=request["agent_extension"],
                                  source=source)
        return {"id": envelope.id, "type": ORIGINATE_REQUESTED}

    @router.post("/webhooks/click-to-call", status_code=202)
    async def click_to_call_webhook(request: Request) -> dict[str, Any]:
        """The CRM asks to call a number from an agent's phone (signed webhook)."""
        async def accept(body: Any) -> dict[str, Any]:
            return await publish(originate_request(body))

        return await accept_signed(request, verifier, accept, kind="click-to-call request")

    @router.post("/click-to-call", status_code=202)
    async def click_to_call(body: dict[str, Any]) -> dict[str, Any]:
        """Ask the PBX to ring ``agent_extension`` and then call ``number``."""
        try:
            payload = {"agent_extension": str(body["agent_extension"]),
                       "number": str(body["number"]).replace(" ", ""),
                       "requested_by": body.get("requested_by") or {"system": source}}
            if body.get("crm_entity"):
                payload["crm_entity"] = body["crm_entity"]
            return await publish(payload)
        except (KeyError, TypeError, PermanentError) as error:
            raise HTTPException(422, f"not a click-to-call request: {error}") from None
        except TransientError as error:
            raise HTTPException(503, f"the bus did not take the request: {error}") from None

    return router
