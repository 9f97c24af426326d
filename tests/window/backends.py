"""Test backends on the bus: real responders of the real request types, with known latency.

One fictional customer (Мария Иванова) is known to all of them under her keys;
any other key finds nothing. A backend with ``latency=None`` takes the request
and never answers (until the test ends).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bus.errors import ExternalSystemUnavailable
from bus.router import Router

H = TypeVar("H", bound=Callable[..., Any])

PHONE = "+79123456789"
INN = "246512345678"
GOLDEN = "g-000123"
CRM_ID = "crm-100245"
BILLING_ID = "10245"
DOCFLOW_ID = "CP-00871"
ACCOUNTS = ("100245", "100246")
MANAGER = {"id": "mgr-17", "name": "Петров Олег", "extension": "2001"}

CUSTOMER: dict[str, Any] = {
    "id": GOLDEN,
    "person": {"last_name": "Иванова", "first_name": "Мария", "middle_name": "Сергеевна"},
    "inn": INN, "segment": "vip", "status": "active", "manager_id": MANAGER["id"],
    "contacts": [{"phone": PHONE, "label": "mobile", "primary": True}],
    "external_ids": {"docflow": DOCFLOW_ID},
}


def account(number: str, balance: str) -> dict[str, Any]:
    return {"number": number, "customer_id": BILLING_ID, "status": "active",
            "balance": {"amount": balance, "currency": "RUB"}, "tariff": "Домашний 100",
            "services": [{"id": f"s-{number}", "name": "Интернет 100", "kind": "internet",
                          "status": "active"}]}


@dataclass
class Backends:
    """Latency per section in seconds (None: never answers), and what each was asked."""

    latency: dict[str, float | None] = field(default_factory=dict)
    asked: Counter[str] = field(default_factory=Counter)
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    balances: dict[str, str] = field(default_factory=lambda: {n: "-125.50" for n in ACCOUNTS})
    released: asyncio.Event = field(default_factory=asyncio.Event)
    failing: set[str] = field(default_factory=set)
    """Sections whose backend fails (its system is down): the bus replies with the error."""
    absent: set[str] = field(default_factory=set)
    """Sections with no test backend at all (a real adapter answers them)."""

    async def _wait(self, section: str, payload: Mapping[str, Any]) -> None:
        self.asked[section] += 1
        self.requests.setdefault(section, []).append(dict(payload))
        if section in self.failing:
            raise ExternalSystemUnavailable(f"{section} backend is down")
        delay = self.latency.get(section, 0.0)
        if delay is None:
            await self.released.wait()
        elif delay:
            await asyncio.sleep(delay)

    def router(self, concurrency: int = 64) -> Router:
        router = Router(source="test-backends")

        def responder(section: str, request: str, reply: str) -> Callable[[H], H]:
            if section in self.absent:
                return lambda handler: handler
            return router.responder(request, reply, concurrency=concurrency)

        @responder("profile", "sync.customer.requested.v1", "sync.customer.replied.v1")
        async def profile(payload: dict[str, Any]) -> dict[str, Any]:
            await self._wait("profile", payload)
            record = payload.get("record") or {}
            if (payload.get("golden_id") == GOLDEN or payload.get("phone") == PHONE
                    or payload.get("inn") == INN or payload.get("account_number") in ACCOUNTS
                    or record.get("id") in (CRM_ID, BILLING_ID)):
                return {"customers": [{"golden_id": GOLDEN, "customer": CUSTOMER, "xref": [
                    {"system": "crm", "id": CRM_ID}, {"system": "billing", "id": BILLING_ID}],
                    "open_conflicts": 0}]}
            return {"customers": []}

        @responder("crm", "crm.card.requested.v1", "crm.card.replied.v1")
        async def crm(payload: dict[str, Any]) -> dict[str, Any]:
            await self._wait("crm", payload)
            if payload.get("phone") == PHONE or payload.get("customer_id") == CRM_ID:
                customer = {**CUSTOMER, "id": CRM_ID, "external_ids": {}}
                return {"card": {"customer": customer, "manager": MANAGER, "segment": "vip",
                                 "deals": [{"id": "d-1", "kind": "deal", "title": "Роутер"}],
                                 "interactions": []}}
            return {"card": None, "error": {"code": "not_found", "message": "no such customer"}}

        @responder("billing", "billing.accounts.requested.v1", "billing.accounts.replied.v1")
        async def billing(payload: dict[str, Any]) -> dict[str, Any]:
            await self._wait("billing", payload)
            if (payload.get("customer_id") == BILLING_ID or payload.get("inn") == INN
                    or payload.get("phone") == PHONE
                    or payload.get("account_number") in ACCOUNTS):
                return {"accounts": [account(n, b) for n, b in self.balances.items()]}
            return {"accounts": []}

        @responder("documents", "docflow.documents.requested.v1", "docflow.documents.replied.v1")
        async def documents(payload: dict[str, Any]) -> dict[str, Any]:
            await self._wait("documents", payload)
            if payload.get("inn") == INN or payload.get("customer_id") == DOCFLOW_ID:
                return {"documents": [{
                    "id": "doc-7", "kind": "contract", "number": "Д-100245", "date": "2024-01-15",
                    "status": "signed", "account_number": ACCOUNTS[0],
                    "counterparty": {"name": "Иванова Мария", "inn": INN}}]}
            return {"documents": []}

        @responder("calls", "pbx.calls.requested.v1", "pbx.calls.replied.v1")
        async def calls(payload: dict[str, Any]) -> dict[str, Any]:
            await self._wait("calls", payload)
            if payload.get("phone") == PHONE:
                return {"calls": [{"linkedid": "1710224107.1837", "direction": "inbound",
                                   "caller_number": PHONE, "started_at": "2024-03-12T06:15:07Z",
                                   "disposition": "answered", "talk_seconds": 95}]}
            return {"calls": []}

        return router
