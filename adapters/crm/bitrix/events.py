"""Bitrix24's outbound events in: ``POST /webhooks/bitrix24``.

Bitrix24 posts an event handler a form (``application/x-www-form-urlencoded``) with PHP-style
keys: ``event=ONCRMCONTACTUPDATE``, ``data[FIELDS][ID]=42``, ``ts=...``,
``auth[application_token]=...`` (shape: e.g.
https://apidocs.bitrix24.com/api-reference/crm/universal/events/on-crm-dynamic-item-add.html
"What the handler receives"). The ``application_token`` is the only proof the call comes
from the portal: it is compared in constant time with ``ESB_CRM__APPLICATION_TOKEN`` and a
missing or different token is answered ``401`` with nothing published.

* ``ONCRMCONTACTADD`` / ``ONCRMCONTACTUPDATE`` / ``ONCRMCOMPANYADD`` / ``ONCRMCOMPANYUPDATE``
  carry only the id: the record is read (``crm.contact.get`` / ``crm.company.get``) and
  published as ``crm.customer.changed.v1``;
* ``ONEXTERNALCALLSTART`` (a user clicked a number in Bitrix24: ``USER_ID``,
  ``PHONE_NUMBER``, ``CRM_ENTITY_TYPE``, ``CRM_ENTITY_ID``, ``CALL_ID``) becomes
  ``pbx.originate.requested.v1`` from the user's extension (``user.get``
  ``UF_PHONE_INNER``).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request

from adapters.crm.bitrix.gateway import Bitrix24Crm
from adapters.crm.clicktocall import ORIGINATE_REQUESTED
from adapters.crm.gateway import CrmGateway
from bus.errors import EsbError, TransientError

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["bitrix_event_router", "parse_event"]

log = logging.getLogger(__name__)

CHANGED = "crm.customer.changed.v1"
CUSTOMER_EVENTS = {"ONCRMCONTACTADD": ("contact", "created"),
                   "ONCRMCONTACTUPDATE": ("contact", "updated"),
                   "ONCRMCOMPANYADD": ("company", "created"),
                   "ONCRMCOMPANYUPDATE": ("company", "updated")}
CLICK_TO_CALL = "ONEXTERNALCALLSTART"


def parse_event(body: bytes, content_type: str) -> dict[str, Any]:
    """A Bitrix24 event body (form with ``a[b][c]`` keys, or JSON) as nested dicts."""
    if "json" in content_type:
        parsed = json.loads(body)
        if not isinstance(parsed, dict):
            raise ValueError("an event is an object")
        return parsed
    event: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head] + [part.rstrip("]") for part in rest.split("[")] if rest else [head]
        node = event
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"conflicting keys at {key!r}")
            node = child
        node[path[-1]] = value
    return event


def bitrix_event_router(bus: Bus, crm: CrmGateway, application_token: str, *,
                        source: str = "crm") -> APIRouter:
    router = APIRouter(tags=["crm"])

    @router.post("/webhooks/bitrix24", status_code=202)
    async def bitrix24_event(request: Request) -> dict[str, Any]:
        """An event from Bitrix24 (contact/company added or updated, click-to-call)."""
        try:
            event = parse_event(await request.body(), request.headers.get("Content-Type", ""))
        except (ValueError, UnicodeDecodeError, RecursionError) as error:  # JSON too deep
            raise HTTPException(400, f"not a Bitrix24 event: {error}") from None
        token = str(_object(event.get("auth")).get("application_token") or "")
        if not application_token or not hmac.compare_digest(token.encode(),
                                                            application_token.encode()):
            raise HTTPException(401, "application_token is missing or wrong")
        name = str(event.get("event") or "").upper()
        fields = _object(_object(event.get("data")).get("FIELDS"))
        try:
            if name in CUSTOMER_EVENTS:
                kind, change = CUSTOMER_EVENTS[name]
                customer = await crm.get_customer(f"{kind}-{int(fields['ID'])}")
                envelope = await bus.emit(CHANGED, {"change": change, "customer": customer},
                                          key=customer["id"], source=source)
                return {"id": envelope.id, "type": CHANGED}
            if name == CLICK_TO_CALL:
                data = _object(event.get("data"))
                request_payload = await _originate_request(crm, data)
                envelope = await bus.emit(ORIGINATE_REQUESTED, request_payload,
                                          key=request_payload["agent_extension"],
                                          source=source)
                return {"id": envelope.id, "type": ORIGINATE_REQUESTED}
        except (KeyError, ValueError, TypeError) as error:
            raise HTTPException(422, f"not a usable {name} event: {error}") from None
        except TransientError as error:
            raise HTTPException(503, f"not taken now, send it again: {error}") from None
        except EsbError as error:
            raise HTTPException(422, f"{name}: {error}") from None
        log.info("Bitrix24 event %s ignored", name)
        return {"id": None, "type": None}

    return router


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is an object; a body may put a string where Bitrix24 puts one."""
    return value if isinstance(value, dict) else {}


async def _originate_request(crm: CrmGateway, data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(crm, Bitrix24Crm):
        raise ValueError("ONEXTERNALCALLSTART needs the bitrix24 profile")
    user = await crm.client.user(int(data["USER_ID"]))
    extension = str((user or {}).get("UF_PHONE_INNER") or "")
    if not extension:
        raise ValueError(f"user {data['USER_ID']} has no internal number (UF_PHONE_INNER)")
    request: dict[str, Any] = {
        "agent_extension": extension, "number": str(data["PHONE_NUMBER"]).replace(" ", ""),
        "requested_by": {"system": "crm", "user_id": str(data["USER_ID"])},
    }
    kind = str(data.get("CRM_ENTITY_TYPE") or "").lower()
    if kind in ("contact", "company", "lead") and str(data.get("CRM_ENTITY_ID", "")).isdigit():
        request["crm_entity"] = {"type": kind, "id": str(data["CRM_ENTITY_ID"])}
    return request
