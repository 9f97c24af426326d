"""Zadarma cloud PBX: its webhook notifications -> the canonical ``pbx.call.*.v1`` events.

Registered in ``esb.adapters`` as ``zadarma``; off until ``ESB_ZADARMA__ENABLED=true``
and ``ESB_ZADARMA__API_SECRET`` is set. The webhook is served by the bus API at
``/v1/adapters/zadarma/webhook`` (point Zadarma's "notifications" URL there). A site
with Zadarma and no Asterisk runs this adapter; the same bus, call log, screen pop and
call store see its calls as they see Asterisk's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter

from adapters.pbx.cloud.ingress import CloudIngress
from adapters.pbx.cloud.settings import ZadarmaSettings
from adapters.pbx.cloud.webhooks import zadarma_routes
from adapters.pbx.events import CALL_ANSWERED, CALL_ENDED, CALL_RINGING
from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.router import Router

__all__ = ["ZadarmaAdapter"]

log = logging.getLogger(__name__)


class ZadarmaAdapter(Adapter):
    manifest = AdapterManifest(
        name="zadarma", version="0.1.0",
        description="Zadarma cloud PBX webhooks: calls (ringing, answered, ended)",
        publishes=(CALL_RINGING, CALL_ANSWERED, CALL_ENDED), settings=ZadarmaSettings,
    )
    router = Router(source="zadarma")

    def __init__(self, settings: AdapterSettings, bus: Any) -> None:
        super().__init__(settings, bus)
        assert isinstance(settings, ZadarmaSettings)
        self.zadarma_settings = settings
        self.ingress = CloudIngress(bus, provider="zadarma", zone=ZoneInfo(settings.timezone),
                                    source="zadarma", region=settings.region)
        self._pruner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._pruner = asyncio.create_task(self._prune(), name="zadarma-prune")

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner

    async def _prune(self) -> None:
        age = self.zadarma_settings.retention_days * 86400
        while True:
            try:
                gone = await asyncio.to_thread(self.ingress.prune, age)
            except Exception as error:  # a clean-up that fails waits for the next round
                log.warning("Zadarma call states not pruned: %s", error)
            else:
                if gone:
                    log.info("Zadarma: %d old call state rows pruned", gone)
            await asyncio.sleep(self.zadarma_settings.prune_interval)

    def api_routes(self) -> APIRouter:
        return zadarma_routes(self.ingress, self.zadarma_settings.api_secret.get_secret_value(),
                              max_echo_chars=self.zadarma_settings.max_echo_chars)

    async def health(self) -> Health:
        configured = bool(self.zadarma_settings.api_secret.get_secret_value())
        return Health(ok=configured,
                      detail="webhook ready" if configured else "ESB_ZADARMA__API_SECRET unset",
                      checks={"notifications": self.ingress.taken,
                              "duplicates": self.ingress.duplicates})
