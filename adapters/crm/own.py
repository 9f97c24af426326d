"""The ``own`` profile: our CRM's REST dialect (:class:`~adapters.crm.client.CrmClient`)
behind the :class:`~adapters.crm.gateway.CrmGateway` protocol, mapped by
:mod:`adapters.crm.mapping`."""

from __future__ import annotations

from typing import Any

from adapters.crm import mapping
from adapters.crm.client import CrmClient
from adapters.crm.settings import CrmSettings

__all__ = ["OwnCrm"]

Canonical = dict[str, Any]


class OwnCrm:
    profile = "own"

    def __init__(self, client: CrmClient) -> None:
        self.client = client
        self.region = client.region

    @classmethod
    def from_settings(cls, settings: CrmSettings) -> OwnCrm:
        return cls(CrmClient.from_settings(settings))

    async def find_by_phone(self, phone: str) -> list[Canonical]:
        return [mapping.customer(r, region=self.region)
                for r in await self.client.find_by_phone(phone)]

    async def find_by_inn(self, inn: str) -> list[Canonical]:
        return [mapping.customer(r, region=self.region)
                for r in await self.client.find_by_inn(inn)]

    async def get_customer(self, customer_id: str) -> Canonical:
        return mapping.customer(await self.client.get_customer(customer_id), region=self.region)

    async def card(self, customer_id: str, interactions: int = 10) -> Canonical:
        found = await self.client.get_customer(customer_id, interactions=interactions)
        return mapping.card(found, region=self.region, interactions=interactions)

    async def create_lead(self, lead: Canonical) -> tuple[Canonical, bool]:
        stored, created = await self.client.create_customer(
            mapping.lead_customer(lead), key=f"lead-{lead['phone']}")
        return mapping.customer(stored, region=self.region), created

    async def call_ringing(self, call: Canonical) -> None:
        return None  # our CRM has no call card to pop: the operator page does the screen pop

    async def log_call(self, logged: Canonical) -> bool:
        _stored, created = await self.client.put_interaction(mapping.crm_interaction(logged))
        return created

    async def create_callback(self, logged: Canonical, due_minutes: int) -> None:
        task = mapping.callback_task(logged, due_minutes=due_minutes)
        await self.client.create_task(task, key=f"callback-{logged['id']}")

    async def annotate(self, annotation: Canonical) -> None:
        body = {name: annotation.get(name) for name in
                ("result", "notes", "agent_extension", "agent_id", "annotated_at")}
        await self.client.annotate_interaction(
            mapping.interaction_id(str(annotation["call_id"])), body)

    async def record_originate(self, reply: Canonical, key: str) -> None:
        await self.client.add_activity(mapping.originate_activity(reply), key=key)

    async def close(self) -> None:
        await self.client.close()
