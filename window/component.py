"""The unified window on the bus: registered as ``window`` in ``esb.adapters``.

It owns no external system; it asks the others over the bus
(:mod:`window.gather`), listens to their change events (:mod:`window.handlers`)
and serves ``/v1/customers/…``, ``/v1/screen-pop/…`` and ``/v1/calls/…``
(:mod:`window.api`). ``ESB_WINDOW__ENABLED=false`` turns it off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from window.api import ORIGINATE_TYPE, RESULT_TYPE, window_router
from window.backends import BACKENDS
from window.handlers import SCREEN_POP_TYPES, router
from window.invalidation import INVALIDATING_TYPES
from window.settings import WindowSettings
from window.state import WindowState
from window.view import VIEW_TYPE

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["WindowComponent"]


class WindowComponent(Adapter):
    manifest = AdapterManifest(
        name="window", version="0.1.0",
        description="Unified window: the aggregated customer view (scatter-gather with "
                    "deadlines, cache invalidated by events) and the screen pop over SSE",
        consumes=tuple(sorted({*INVALIDATING_TYPES, *SCREEN_POP_TYPES,
                               *(b.reply_type for b in BACKENDS)})),
        publishes=tuple(sorted({VIEW_TYPE, ORIGINATE_TYPE, RESULT_TYPE,
                                *(b.request_type for b in BACKENDS)})),
        settings=WindowSettings,
    )
    router = router
    api_prefix = "/v1"

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        if not isinstance(settings, WindowSettings):
            raise TypeError("WindowComponent needs WindowSettings")
        self.config = settings
        self.state = WindowState.build(settings, self._request)

    def provide(self) -> dict[type, object]:
        return {WindowState: self.state}

    def api_routes(self) -> APIRouter:
        return window_router(self.state, self._publish, self._request)

    async def stop(self) -> None:
        await self.state.screen_pop.close()

    async def health(self) -> Health:
        cache = self.state.cache
        return Health(ok=self.bus.running, detail="bus running" if self.bus.running
                      else "bus not running", checks={
            "views": self.state.views.views, "cached_answers": len(cache),
            "cache_hits": cache.hits, "cache_misses": cache.misses,
            "invalidated": cache.invalidations, "directory": len(self.state.directory),
            "screen_pop_sessions": sum(self.state.hub.agents().values()),
            "screen_pops_pushed": self.state.hub.pushed})

    async def check(self) -> str:
        """Nothing external to reach: what the window will ask, and how long it waits."""
        deadlines = self.config.deadlines.model_dump()
        return ("asks over the bus: " + ", ".join(
            f"{b.section} ({b.request_type}, {deadlines[b.section]:g} s)" for b in BACKENDS)
            + f"; cache TTL {self.config.cache_ttl:g} s")

    async def _request(self, type: str, payload: Mapping[str, Any],
                       timeout: float) -> Mapping[str, Any]:
        reply = await self.bus.request(type, payload, timeout=timeout)
        return reply.payload

    async def _publish(self, type: str, payload: Mapping[str, Any], key: str | None) -> str:
        envelope = await self.bus.emit(type, payload, key=key, source="window")
        return envelope.id
