"""The only module of the adapter that speaks HTTP to the CRM (our own REST dialect, httpx).

Endpoints (all under ``/api/v1``, ``Authorization: Bearer <token>``):

=====================================  ==============================================
``GET  /customers?phone=+7…``           customers having the number (E.164)
``GET  /customers?inn=…``               customers with the INN
``GET  /customers/{id}``                the card: manager, segment, interactions
``PUT  /interactions/{external_id}``    write a call log; 201 new, 200 already there
``POST /tasks`` + ``Idempotency-Key``   create a task; a repeated key returns the first
``PATCH /interactions/{external_id}``  the agent's result and notes; 404 if not logged
``POST /activities`` + ``Idempotency-Key``  an activity (click-to-call outcome), once per key
``POST /customers`` + ``Idempotency-Key``   a lead for a new caller, once per key
=====================================  ==============================================

Errors say what the bus should do: network errors, timeouts, 5xx, 408 and 429
raise :class:`~bus.errors.ExternalSystemUnavailable` (retried); other 4xx
raise :class:`~bus.errors.ExternalSystemRejected` (dead-lettered), 404 as
:class:`NotFound`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from adapters.crm.mapping import e164
from adapters.crm.settings import CrmSettings
from bus.adapters.http_errors import raise_for_status, unavailable
from bus.errors import ExternalSystemRejected

__all__ = ["CrmClient", "NotFound"]

log = logging.getLogger(__name__)

Record = dict[str, Any]


class NotFound(ExternalSystemRejected):
    """The CRM answered 404: the record does not exist."""


class CrmClient:
    """One CRM endpoint over a pooled :class:`httpx.AsyncClient`."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0, region: str = "RU",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.region = region
        self._http = httpx.AsyncClient(
            base_url=f"{self.url}/api/v1", timeout=timeout, transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            trust_env=False)

    @classmethod
    def from_settings(cls, settings: CrmSettings) -> CrmClient:
        return cls(settings.url, settings.token.get_secret_value(), timeout=settings.timeout,
                   region=settings.region)

    async def close(self) -> None:
        await self._http.aclose()

    # -- operations -----------------------------------------------------------

    async def find_by_phone(self, phone: str) -> list[Record]:
        """Customers having ``phone`` (as typed; normalised to E.164 first)."""
        number = e164(phone, self.region)
        if number is None:
            return []
        found = await self._call("GET", "/customers", params={"phone": number})
        return list(found.get("items") or [])

    async def find_by_inn(self, inn: str) -> list[Record]:
        found = await self._call("GET", "/customers", params={"inn": inn})
        return list(found.get("items") or [])

    async def get_customer(self, customer_id: str, interactions: int | None = None) -> Record:
        """The customer's card (responsible manager, segment, open deals/requests, last
        interactions); NotFound if none."""
        params = {"interactions": interactions} if interactions is not None else None
        result: Record = await self._call(
            "GET", f"/customers/{quote(customer_id, safe='')}", params=params)
        return result

    async def create_customer(self, body: Mapping[str, Any], key: str) -> tuple[Record, bool]:
        """Create a customer (a lead) once per idempotency ``key``: (it, whether new)."""
        response = await self._send("POST", "/customers", json=dict(body),
                                    headers={"Idempotency-Key": key})
        return response.json(), response.status_code == 201

    async def annotate_interaction(self, external_id: str, body: Mapping[str, Any]) -> Record:
        """Write the agent's result and notes into a call log; NotFound if it is not there."""
        result: Record = await self._call(
            "PATCH", f"/interactions/{quote(external_id, safe='')}", json=dict(body))
        return result

    async def add_activity(self, body: Mapping[str, Any], key: str) -> Record:
        """Add an activity (a click-to-call outcome) once per idempotency ``key``."""
        result: Record = await self._call("POST", "/activities", json=dict(body),
                                          headers={"Idempotency-Key": key})
        return result

    async def put_interaction(self, body: Mapping[str, Any]) -> tuple[Record, bool]:
        """Write a call log under its ``external_id``: (the stored log, whether it is new).

        Writing the same external id again changes nothing in the CRM.
        """
        path = f"/interactions/{quote(str(body['external_id']), safe='')}"
        response = await self._send("PUT", path, json=dict(body))
        return response.json(), response.status_code == 201

    async def create_task(self, body: Mapping[str, Any], key: str) -> Record:
        """Create a task (call-back) once per idempotency ``key``."""
        result: Record = await self._call("POST", "/tasks", json=dict(body),
                                          headers={"Idempotency-Key": key})
        return result

    # -- plumbing -------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self._send(method, path, **kwargs)).json()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        where = f"crm {method} {path}"
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise unavailable(where, error) from error
        raise_for_status(where, response, detail=_detail, not_found=NotFound)
        return response


def _detail(response: httpx.Response) -> str:
    return response.text[:200]
