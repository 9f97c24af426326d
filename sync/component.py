"""The synchronizer as a bus component (``esb.adapters`` entry point ``sync``).

It runs the incremental consumer and the customer look-up (:mod:`sync.handlers`),
holds the consumer back while a full run holds the store (:mod:`sync.hold`),
and serves ``/v1/sync`` (:mod:`sync.api`). Its tables live in the bus's
database, so the events it stages leave through the bus's outbox.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter

from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from sync.api import sync_api
from sync.canonical import CHANGE_TYPES
from sync.handlers import router
from sync.hold import HoldWatch
from sync.lookup import status
from sync.service import SyncService
from sync.settings import SyncSettings

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["SyncComponent"]


class SyncComponent(Adapter):
    manifest = AdapterManifest(
        name="sync",
        version="1.0.0",
        description="Reference-data synchronizer: one customer across CRM, billing and docflow "
                    "(xref, golden records, conflicts)",
        consumes=(*sorted(CHANGE_TYPES), "sync.customer.requested.v1",
                  "sync.partition.requested.v1"),
        publishes=("sync.customer.linked.v1", "sync.customer.merged.v1",
                   "sync.customer.split.v1", "sync.customer.updated.v1",
                   "sync.conflict.raised.v1", "sync.customer.replied.v1",
                   "sync.partition.matched.v1"),
        settings=SyncSettings,
    )
    router = router
    api_prefix = "/v1/sync"

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        if not isinstance(settings, SyncSettings):
            raise TypeError("SyncComponent needs SyncSettings")
        self.service = SyncService(bus.engine, settings, source=router.source,
                                   on_commit=bus.outbox_relay_poke)

        self.hold_watch = HoldWatch(bus.engine, bus, settings.hold_poll_seconds)

    async def start(self) -> None:
        self.hold_watch.start()

    async def stop(self) -> None:
        await self.hold_watch.stop()

    def provide(self) -> dict[type, object]:
        return {SyncService: self.service}

    def api_routes(self) -> APIRouter:
        return sync_api(self.service)

    async def health(self) -> Health:
        def read() -> dict[str, object]:
            with self.service.engine.connect() as connection:
                return status(connection)

        found = await asyncio.to_thread(read)
        return Health(ok=True, detail=f"{found['customers']} customers, "
                                      f"{found['linked_records']} linked records",
                      checks={"records": found["records"]})
