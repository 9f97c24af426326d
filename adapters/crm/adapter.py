"""The CRM on the bus: the adapter the ``esb.adapters`` entry point names.

It logs ended calls into the CRM (:func:`~adapters.crm.handlers.log_call`),
writes the agents' results and notes, records click-to-call outcomes, answers
customer look-ups and card reads, and exposes the CRM's webhooks and the
click-to-call API (:meth:`CrmAdapter.api_routes`, under ``/v1/adapters/crm/``).
``ESB_CRM__PROFILE`` picks the dialect (our REST API or Bitrix24).
:meth:`~CrmAdapter.check` is ``esb adapters check crm``: a search by a phone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter

from adapters.crm.clicktocall import click_to_call_router
from adapters.crm.gateway import CrmGateway, gateway_for
from adapters.crm.handlers import router
from adapters.crm.settings import CrmSettings
from adapters.crm.webhooks import WebhookVerifier, webhook_router
from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.adapters.lifecycle import settings_of
from bus.errors import EsbError

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["CrmAdapter"]

CHECK_PHONE = "+79000000000"


class CrmAdapter(Adapter):
    manifest = AdapterManifest(
        name="crm", version="0.1.0",
        description="Our CRM over REST: call logging, call-back tasks, customer look-ups, "
                    "webhooks",
        consumes=("pbx.call.ended.v1", "crm.customer.requested.v1", "crm.card.requested.v1",
                  "crm.interaction.annotated.v1", "pbx.originate.replied.v1",
                  "crm.lead.requested.v1", "pbx.call.ringing.v1"),
        publishes=("crm.interaction.logged.v1", "crm.customer.replied.v1",
                   "crm.card.replied.v1", "crm.customer.changed.v1",
                   "pbx.originate.requested.v1"),
        settings=CrmSettings,
    )
    router = router

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        self.config = settings_of(self, settings, CrmSettings)
        self.client: CrmGateway = gateway_for(self.config, getattr(bus, "engine", None))
        self.verifier = WebhookVerifier(self.config.webhook_secret.get_secret_value(),
                                        self.config.webhook_tolerance)
        self._last_error: str | None = None
        self._last_ok: float | None = None
        self._started = False

    def provide(self) -> dict[type, object]:
        return {CrmGateway: self.client, CrmSettings: self.config}

    def api_routes(self) -> APIRouter:
        routes = APIRouter()
        if self.config.profile == "bitrix24":
            from adapters.crm.bitrix.events import bitrix_event_router

            routes.include_router(bitrix_event_router(
                self.bus, self.client, self.config.application_token.get_secret_value(),
                source=router.source))
        else:
            routes.include_router(webhook_router(self.bus, self.verifier,
                                                 region=self.config.region,
                                                 source=router.source))
        routes.include_router(click_to_call_router(self.bus, self.verifier,
                                                   source=router.source))
        return routes

    async def start(self) -> None:
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self.client.close()

    async def health(self) -> Health:
        checks = {"url": self.config.url, "last_ok": self._last_ok,
                  "profile": self.config.profile,
                  "webhooks": bool(self.config.webhook_secret.get_secret_value())}
        try:
            await self.client.find_by_phone(CHECK_PHONE)
        except EsbError as error:
            self._last_error = str(error)
            return Health(ok=False, detail=self._last_error, checks=checks)
        self._last_ok = time.time()
        return Health(ok=True, detail=f"{self.config.url} answers", checks=checks)

    async def check(self, phone: str = CHECK_PHONE) -> str:
        """Search the CRM by a phone with the current settings."""
        try:
            found = await self.client.find_by_phone(phone)
        finally:
            if not self._started:  # a check from the CLI: leave no connection open
                await self.client.close()
        return (f"searched {self.config.profile} CRM {self.config.url} by phone {phone}: "
                f"{len(found)} customer(s) found")
