"""The console as a component of the bus: discovered through ``esb.adapters``,
mounted by the bus API beside its own routes."""

from __future__ import annotations

from typing import ClassVar

from fastapi import APIRouter

from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.app import Bus
from console.flow_routes import flow_routes
from console.flows import FlowSampler
from console.pages import page_routes
from console.settings import ConsoleSettings

__all__ = ["ConsoleComponent"]


class ConsoleComponent(Adapter):
    """The operator page (``/ui/operator``), the operations console (``/ui/console``)
    and the live flows they chart (``/v1/flows``)."""

    manifest = AdapterManifest(
        name="console", version="0.1.0",
        description="Operator page, operations console and live flow rates",
        settings=ConsoleSettings,
    )
    api_prefix: ClassVar[str | None] = ""  # the routes carry their full paths

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        config = settings if isinstance(settings, ConsoleSettings) else ConsoleSettings()
        self.sampler = FlowSampler(
            bus.observability.metrics, interval=config.sample_interval,
            history=config.history, rate_window=config.rate_window,
        )

    def api_routes(self) -> APIRouter:
        router = APIRouter()
        router.include_router(page_routes())
        router.include_router(flow_routes(self.sampler))
        return router

    async def start(self) -> None:
        self.sampler.start()

    async def stop(self) -> None:
        await self.sampler.stop()

    async def health(self) -> Health:
        running = self.sampler.running
        return Health(ok=running, detail="sampling the bus's counters" if running
                      else "the flow sampler is not running")
