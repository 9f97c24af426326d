"""Stopping and starting one adapter of a running host (the operations console's buttons).

Stopping an adapter runs its :meth:`~bus.adapters.Adapter.stop`: it lets go of
what it runs itself (client connections, pollers, watched folders) and is shown
``stopped``, unhealthy, with who stopped it. Starting runs
:meth:`~bus.adapters.Adapter.start` again and shows it ``running``. The bus and
the other adapters are not touched.

Its subscriptions stay on the bus: a message for a stopped adapter reaches its
handler, which fails as when its system is down (retried with backoff, then
dead-lettered, replayable). Pausing its queues while it is stopped needs the bus
to pause single subscriptions, which it does not yet offer.
"""

from __future__ import annotations

import logging
from typing import Literal

from bus.adapters.contract import Health
from bus.adapters.registry import AdapterHost, LoadedAdapter

__all__ = ["Refused", "start_adapter", "stop_adapter"]

log = logging.getLogger(__name__)

Refused = Literal["not found", "not running", "not stopped"]
"""Why an adapter was not stopped or started."""


def _find(host: AdapterHost, name: str) -> LoadedAdapter | None:
    return next((loaded for loaded in host.adapters if loaded.name == name), None)


async def stop_adapter(host: AdapterHost, name: str, *, by: str) -> LoadedAdapter | Refused:
    """Stop a running adapter; what it is now, or why not."""
    loaded = _find(host, name)
    if loaded is None:
        return "not found"
    if loaded.instance is None or loaded.state != "running":
        return "not running"
    try:
        await loaded.instance.stop()
    except Exception as error:  # it is stopped all the same: say how it went
        log.exception("adapter %s did not stop cleanly", name)
        loaded.error = f"{type(error).__name__}: {error}"
    loaded.state = "stopped"
    loaded.health = Health(ok=False, detail=f"stopped by {by}")
    log.warning("adapter %s stopped by %s", name, by)
    return loaded


async def start_adapter(host: AdapterHost, name: str, *, by: str) -> LoadedAdapter | Refused:
    """Start again an adapter stopped by :func:`stop_adapter`; what it is now, or why not."""
    loaded = _find(host, name)
    if loaded is None:
        return "not found"
    if loaded.instance is None or loaded.state != "stopped":
        return "not stopped"
    try:
        await loaded.instance.start()
    except Exception as error:
        log.error("adapter %s could not be started by %s: %s", name, by, error)
        loaded.error = f"{type(error).__name__}: {error}"
        loaded.health = Health(ok=False, detail=f"start failed: {loaded.error}")
        return loaded
    loaded.state, loaded.error = "running", None
    loaded.health = await _health(loaded)
    log.warning("adapter %s started by %s", name, by)
    return loaded


async def _health(loaded: LoadedAdapter) -> Health | None:
    if loaded.instance is None:
        return None
    try:
        return await loaded.instance.health()
    except Exception as error:
        return Health(ok=False, detail=f"{type(error).__name__}: {error}")
