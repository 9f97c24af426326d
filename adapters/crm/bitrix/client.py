"""The only module of the ``bitrix24`` profile that speaks HTTP: Bitrix24's REST API.

Calls go to an inbound webhook, ``POST {url}/rest/{user_id}/{code}/{method}.json``
with a JSON body, as the REST docs show for every method (e.g.
https://apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html:
``curl -X POST -d '{"entity_type":"CONTACT","type":"PHONE","values":[...]}'
https://<portal>/rest/<user_id>/<webhook>/crm.duplicate.findbycomm``). ``ESB_CRM__URL``
is the portal, ``ESB_CRM__TOKEN`` is ``<user_id>/<webhook code>`` (kept secret: the code
is the credential).

A success is ``{"result": ..., "time": {...}}``; a failure ``{"error": "CODE",
"error_description": "..."}`` with an HTTP 4xx/5xx. ``QUERY_LIMIT_EXCEEDED`` (the portal's
rate limit, HTTP 503), 5xx, timeouts and network errors are
:class:`~bus.errors.ExternalSystemUnavailable` (retried); ``NOT_FOUND`` and a "Not found"
description are :class:`~adapters.crm.client.NotFound`; anything else is
:class:`~bus.errors.ExternalSystemRejected` (dead-lettered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.crm.client import NotFound
from bus.adapters.http_errors import unavailable
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable

__all__ = ["Bitrix24Client"]

RETRIED = frozenset({"QUERY_LIMIT_EXCEEDED", "INTERNAL_SERVER_ERROR", "OVERLOAD_LIMIT"})


class Bitrix24Client:
    """One Bitrix24 portal over a pooled :class:`httpx.AsyncClient`."""

    def __init__(self, url: str, webhook: str, *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=f"{self.url}/rest/{webhook.strip('/')}", timeout=timeout,
            transport=transport, headers={"Accept": "application/json"}, trust_env=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call ``method`` with ``params``; its ``result``."""
        where = f"bitrix24 {method}"
        try:
            response = await self._http.post(f"/{method}.json", json=dict(params or {}))
        except httpx.HTTPError as error:
            raise unavailable(where, error) from error
        try:
            body = response.json()
        except ValueError:
            raise ExternalSystemUnavailable(
                f"{where}: HTTP {response.status_code} without JSON") from None
        if response.status_code < 400 and isinstance(body, dict) and "result" in body:
            return body["result"]
        code = str(body.get("error") or "") if isinstance(body, dict) else ""
        text = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        detail = f"{where}: HTTP {response.status_code} {code} {text}".strip()[:300]
        if response.status_code >= 500 or code in RETRIED or response.status_code == 429:
            raise ExternalSystemUnavailable(detail)
        if code == "NOT_FOUND" or text.lower().startswith("not found"):
            raise NotFound(detail)
        raise ExternalSystemRejected(detail)

    # -- the methods the adapter uses (shapes: the Bitrix24 REST reference) ----------

    async def find_by_phone(self, numbers: list[str]) -> dict[str, list[int]]:
        """``crm.duplicate.findbycomm`` type PHONE: ``{"CONTACT": [ids], "COMPANY": [...],
        "LEAD": [...]}`` (an empty list ``[]`` when nothing matches)."""
        found = await self.call("crm.duplicate.findbycomm",
                                {"type": "PHONE", "values": numbers[:20]})
        return dict(found) if isinstance(found, dict) else {}

    async def entity(self, kind: str, entity_id: int) -> dict[str, Any]:
        """``crm.contact.get`` / ``crm.company.get`` ``{"id": N}``: the record's fields."""
        result: dict[str, Any] = await self.call(f"crm.{kind}.get", {"id": entity_id})
        return result

    async def user(self, user_id: int) -> dict[str, Any] | None:
        """``user.get`` ``{"ID": N}``: the employee (``NAME``, ``LAST_NAME``,
        ``UF_PHONE_INNER`` = the extension), or None."""
        found = await self.call("user.get", {"ID": user_id})
        return found[0] if isinstance(found, list) and found else None

    async def user_by_extension(self, extension: str) -> dict[str, Any] | None:
        found = await self.call("user.get", {"UF_PHONE_INNER": extension})
        return found[0] if isinstance(found, list) and found else None

    async def requisites_by_inn(self, inn: str) -> list[dict[str, Any]]:
        """``crm.requisite.list`` by ``RQ_INN``: ``ENTITY_TYPE_ID`` (3 contact, 4 company)
        and ``ENTITY_ID`` of the owners."""
        found = await self.call("crm.requisite.list", {
            "filter": {"RQ_INN": inn}, "select": ["ENTITY_TYPE_ID", "ENTITY_ID"]})
        return list(found or [])

    async def list_records(self, method: str, filter: Mapping[str, Any], select: list[str],
                   order: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """A ``*.list`` method's first page (50 records): ``crm.deal.list``,
        ``crm.activity.list``."""
        params: dict[str, Any] = {"filter": dict(filter), "select": select}
        if order:
            params["order"] = dict(order)
        return list(await self.call(method, params) or [])

    async def register_call(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``telephony.externalcall.register`` -> ``CALL_ID``, ``CRM_ENTITY_TYPE``,
        ``CRM_ENTITY_ID`` (https://training.bitrix24.com/rest_help/scope_telephony/
        telephony/telephony_externalcall_register.php)."""
        result: dict[str, Any] = await self.call("telephony.externalcall.register",
                                                 dict(params))
        return result

    async def finish_call(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``telephony.externalcall.finish`` (``CALL_ID``, ``USER_ID``, ``DURATION``,
        ``STATUS_CODE``...): the call's statistics record, with ``CRM_ACTIVITY_ID``."""
        result: dict[str, Any] = await self.call("telephony.externalcall.finish",
                                                 dict(params))
        return result

    async def show_call(self, call_id: str, user_ids: list[int]) -> bool:
        """``telephony.externalcall.show``: pop the call's card for these users."""
        return bool(await self.call("telephony.externalcall.show",
                                    {"CALL_ID": call_id, "USER_ID": user_ids}))

    async def hide_call(self, call_id: str, user_ids: list[int]) -> bool:
        """``telephony.externalcall.hide``: take the call's card down."""
        return bool(await self.call("telephony.externalcall.hide",
                                    {"CALL_ID": call_id, "USER_ID": user_ids}))

    async def add_contact(self, fields: Mapping[str, Any]) -> int:
        """``crm.contact.add`` ``{"fields": {...}}``: the new contact's id."""
        return int(await self.call("crm.contact.add", {"fields": dict(fields)}))

    async def add_activity(self, fields: Mapping[str, Any]) -> int:
        """``crm.activity.add`` ``{"fields": {...}}``: the new activity's id."""
        return int(await self.call("crm.activity.add", {"fields": dict(fields)}))

    async def update_activity(self, activity_id: int, fields: Mapping[str, Any]) -> bool:
        """``crm.activity.update`` ``{"id": N, "fields": {...}}``."""
        return bool(await self.call("crm.activity.update",
                                    {"id": activity_id, "fields": dict(fields)}))
