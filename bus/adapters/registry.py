"""Discovering adapters through entry points, and running the ones that load.

An adapter that fails to import, to read its settings or to start is
reported (``esb adapters list``, ``/ready`` details) and skipped; it never
stops the bus or the other adapters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from bus.adapters.contract import Adapter, Health

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["ENTRY_POINT_GROUP", "AdapterHost", "LoadedAdapter", "discover"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "esb.adapters"


@dataclass(slots=True)
class LoadedAdapter:
    name: str
    adapter_class: type[Adapter] | None
    error: str | None = None
    instance: Adapter | None = None
    state: str = "discovered"
    health: Health | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        manifest = self.adapter_class.manifest if self.adapter_class else None
        return {
            "name": self.name, "state": self.state, "error": self.error,
            "version": manifest.version if manifest else None,
            "description": manifest.description if manifest else None,
            "consumes": list(manifest.consumes) if manifest else [],
            "publishes": list(manifest.publishes) if manifest else [],
            "healthy": self.health.ok if self.health else None,
            "health": self.health.detail if self.health else None,
        }


def discover(group: str = ENTRY_POINT_GROUP) -> list[LoadedAdapter]:
    found = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            target = entry.load()
            if not (isinstance(target, type) and issubclass(target, Adapter)):
                raise TypeError(f"{entry.value} is not an Adapter subclass")
            target.manifest  # noqa: B018 - a missing manifest fails here, at load
        except Exception as error:
            log.error("adapter %s could not be loaded and is skipped: %s", entry.name, error)
            found.append(LoadedAdapter(entry.name, None, f"{type(error).__name__}: {error}",
                                       state="failed"))
            continue
        found.append(LoadedAdapter(entry.name, target))
    return found


class AdapterHost:
    """Builds discovered adapters on a bus, starts, checks and stops them."""

    def __init__(self, bus: Bus, adapters: list[LoadedAdapter]) -> None:
        self.bus = bus
        self.adapters = adapters

    def build(self) -> None:
        """Read each adapter's settings, include its handlers and its injected clients."""
        for loaded in self.adapters:
            if loaded.adapter_class is None:
                continue
            try:
                settings = loaded.adapter_class.manifest.settings()
                if not getattr(settings, "enabled", True):
                    loaded.state = "disabled"
                    continue
                instance = loaded.adapter_class(settings, self.bus)
                for kind, provided in instance.provide().items():
                    self.bus.provide(kind, provided)
            except Exception as error:
                self._failed(loaded, "configured", error)
                continue
            self.bus.include(loaded.adapter_class.router)
            loaded.instance = instance
            loaded.state = "built"

    async def start(self) -> None:
        for loaded in self.adapters:
            if loaded.instance is None:
                continue
            try:
                await loaded.instance.start()
            except Exception as error:
                self._failed(loaded, "started", error)
                continue
            loaded.state = "running"

    async def stop(self) -> None:
        for loaded in reversed(self.adapters):
            if loaded.instance is not None and loaded.state == "running":
                try:
                    await loaded.instance.stop()
                except Exception:
                    log.exception("adapter %s did not stop cleanly", loaded.name)
                loaded.state = "stopped"

    async def refresh_health(self) -> list[LoadedAdapter]:
        for loaded in self.adapters:
            if loaded.instance is not None and loaded.state == "running":
                try:
                    loaded.health = await loaded.instance.health()
                except Exception as error:
                    loaded.health = Health(ok=False, detail=f"{type(error).__name__}: {error}")
        return self.adapters

    @staticmethod
    def _failed(loaded: LoadedAdapter, stage: str, error: Exception) -> None:
        log.error("adapter %s could not be %s and is skipped: %s", loaded.name, stage, error)
        loaded.error = f"{type(error).__name__}: {error}"
        loaded.state = "failed"
        loaded.instance = None
