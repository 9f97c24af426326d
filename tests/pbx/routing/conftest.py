"""Shared data for the routing tests: canonical payloads of managers, customers, presence."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from adapters.pbx.routing.decision import RouteRequest
from adapters.pbx.routing.directory import Directory, customer_refs, manager_ref
from adapters.pbx.routing.presence import PresenceBoard
from adapters.pbx.routing.rules import RuleEngine
from adapters.pbx.routing.settings import RoutingSettings
from bus.phones import to_e164

WEDNESDAY_MORNING = dt.datetime(2026, 11, 25, 7, 0, tzinfo=dt.UTC)
"""10:00 in Moscow on a Wednesday: open by the default calendar."""

KNOWN_CALLER = "+79161234567"
VIP_CALLER = "+79035550101"


def manager(ident: str, extension: str | None, *queues: str, active: bool = True,
            change: str = "updated") -> dict[str, Any]:
    """A ``crm.manager.changed.v1`` payload."""
    return {"change": change, "manager": {
        "id": ident, "first_name": ident.title(), "last_name": "Manager",
        "extension": extension, "queues": list(queues), "active": active}}


def customer(ident: str, phone: str, *, manager_id: str | None = None,
             segment: str | None = "consumer", change: str = "updated") -> dict[str, Any]:
    """A ``crm.customer.changed.v1`` payload."""
    return {"change": change, "customer": {
        "id": ident, "person": {"last_name": "Ivanov"}, "segment": segment,
        "manager_id": manager_id, "contacts": [{"phone": phone, "label": "mobile"}]}}


def presence(extension: str, state: str, *, queue: str | None = None) -> dict[str, Any]:
    """A ``pbx.agent.presence.v1`` payload."""
    payload: dict[str, Any] = {"extension": extension, "at": "2026-11-25T07:00:00.000000Z",
                               "source": "queue" if queue else "device", "state": state}
    if queue:
        payload["queue"] = queue
    return payload


STAFF = [manager("anna", "2001", "sales"), manager("boris", "2002", "sales"),
         manager("vera", "2003", "support"), manager("head", "2100", "sales")]


class World:
    """A rule engine over real directory and presence state, filled from payloads."""

    def __init__(self, **settings: Any) -> None:
        self.settings = RoutingSettings(**settings)
        self.directory = Directory()
        self.presence = PresenceBoard(
            assume_free_when_unknown=self.settings.assume_free_when_unknown)
        self.engine = RuleEngine(self.settings, self.directory, self.presence,
                                 rng=random.Random(7))
        for payload in STAFF:
            self.directory.put_manager(manager_ref(payload["manager"]))

    def add_customer(self, payload: dict[str, Any]) -> None:
        refs = customer_refs(payload["customer"], source="crm")
        self.directory.put_customer(payload["customer"]["id"], refs)

    def decide(self, caller: str | None, at: dt.datetime = WEDNESDAY_MORNING,
               linkedid: str = "1764054000.1") -> Any:
        e164 = to_e164(caller) if caller else None
        request = RouteRequest(linkedid, caller, e164, "74951234567")
        found = self.directory.customers.get(e164) if e164 else None
        return self.engine.decide(request, found, at)
