"""Discovery of adapters and other plug-ins through the ``esb.adapters`` entry-point group.

An entry point names an object with a ``router`` attribute (a
:class:`~bus.router.Router`) or a Router itself. One that fails to load is
reported and skipped; it never stops the bus.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from bus.router import Router

__all__ = ["ENTRY_POINT_GROUP", "LoadedPlugin", "discover"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "esb.adapters"


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    name: str
    router: Router | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.router is not None


def discover(group: str = ENTRY_POINT_GROUP) -> list[LoadedPlugin]:
    plugins = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            target = entry.load()
            router = target if isinstance(target, Router) else target.router
            if not isinstance(router, Router):
                raise TypeError(f"{entry.value} has no Router")
        except Exception as error:
            log.error("plug-in %s could not be loaded and is skipped: %s", entry.name, error)
            plugins.append(LoadedPlugin(entry.name, None, f"{type(error).__name__}: {error}"))
            continue
        plugins.append(LoadedPlugin(entry.name, router))
    return plugins
