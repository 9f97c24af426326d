"""Legacy exchange through a staging table: the adapter the ``staging`` entry point names.

:class:`~adapters.staging.poller.StagingPoller` publishes new rows exactly once
and marks them done (or ``error`` with the reason); optionally
:func:`~adapters.staging.handlers.write_outbound` writes canonical messages
back into an outbound table. :meth:`StagingAdapter.check` is
``esb adapters check staging``: the table answers and has the expected columns.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import sqlalchemy as sa

from adapters.staging.client import StagingTable
from adapters.staging.handlers import OutboundTable, outbound_router
from adapters.staging.poller import StagingPoller
from adapters.staging.settings import StagingSettings
from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.adapters.lifecycle import BackgroundWork, settings_of
from bus.db import create_engine
from bus.errors import ConfigurationError
from bus.router import Router

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["StagingAdapter"]


class StagingAdapter(Adapter):
    manifest = AdapterManifest(
        name="staging", version="0.1.0",
        description="Legacy exchange through a staging table: new rows published once and "
                    "marked done (outbox-style); messages written back to an outbound table",
        consumes=(), publishes=("billing.account.changed.v1",),
        settings=StagingSettings,
    )
    router = Router(source="staging")
    """Empty: the write-back subscription's types come from settings (see ``__init__``)."""

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        self.config = settings = settings_of(self, settings, StagingSettings)
        same = sa.make_url(settings.url) == bus.engine.url if settings.url else False
        self.engine = bus.engine if same else create_engine(settings.url or "sqlite://")
        self.table = StagingTable(self.engine, settings)
        self.poller = StagingPoller(bus, settings, self.table, source="staging")
        self.outbound = OutboundTable(self.engine, settings.outbound_table or "esb_outbound")
        bus.include(outbound_router(settings.outbound_types))
        self.work = BackgroundWork()

    def provide(self) -> dict[type, object]:
        return {OutboundTable: self.outbound, StagingSettings: self.config}

    async def start(self) -> None:
        await self._require_columns()
        await asyncio.to_thread(self.poller.create_tables)
        if self.config.outbound_types:
            await asyncio.to_thread(self.outbound.create)
        self.work.spawn_loop(self.poller.run, "staging-poller")

    async def stop(self) -> None:
        await self.work.stop()  # a poll in its thread finishes rather than being abandoned
        if self.engine is not self.bus.engine:
            self.engine.dispose()

    async def health(self) -> Health:
        checks = {"table": self.config.table, "published": self.poller.published,
                  "last_poll": self.poller.last_poll}
        if self.poller.last_error:
            return Health(ok=False, detail=self.poller.last_error, checks=checks)
        return Health(ok=True, detail=f"polling {self.config.table}", checks=checks)

    async def check(self) -> str:
        """The table answers and has the configured columns; how many rows wait."""
        try:
            await self._require_columns()
            waiting = await asyncio.to_thread(self.table.count, self.config.new_status)
            errors = await asyncio.to_thread(self.table.count, self.config.error_status)
        finally:
            if not self.work.started and self.engine is not self.bus.engine:
                self.engine.dispose()
        return (f"staging table {self.config.table} at {self.engine.url.render_as_string()}: "
                f"columns ok, {waiting} row(s) {self.config.new_status}, "
                f"{errors} row(s) {self.config.error_status}")

    async def _require_columns(self) -> None:
        missing = await asyncio.to_thread(self.table.missing_columns)
        if missing:
            raise ConfigurationError(f"staging table {self.config.table} has no column "
                                     f"{', '.join(missing)}")
