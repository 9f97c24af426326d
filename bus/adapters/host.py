"""Stopping and starting one adapter of a running host (the operations console's buttons).

Stopping an adapter first pauses its subscriptions (:meth:`bus.app.Bus.pause`):
it takes no more messages, they wait in its queues (nothing lost, nothing
dead-lettered), and the handlers already running finish while the adapter is
still up. Then its :meth:`~bus.adapters.Adapter.stop` lets go of what it runs
itself (client connections, pollers, watched folders) and it is shown
``stopped``, unhealthy, with who stopped it. Starting runs
:meth:`~bus.adapters.Adapter.start` again, then resumes its subscriptions, so
the backlog drains; it is shown ``running``. The bus and the other adapters are
not touched.
"""

from __future__ import annotations

import logging
from typing import Literal

from bus.adapters.contract import Health
from bus.adapters.registry import AdapterHost, LoadedAdapter

__all__ = ["Refused", "start_adapter", "stop_adapter", "subscriptions_of"]

log = logging.getLogger(__name__)

Refused = Literal["not found", "not running", "not stopped"]
"""Why an adapter was not stopped or started."""


def _find(host: AdapterHost, name: str) -> LoadedAdapter | None:
    return next((loaded for loaded in host.adapters if loaded.name == name), None)


def subscriptions_of(host: AdapterHost, loaded: LoadedAdapter) -> list[str]:
    """The names of the bus subscriptions the adapter's router registered."""
    if loaded.instance is None or loaded.adapter_class is None:
        return []
    on_bus = {subscription.name for subscription in host.bus.subscriptions}
    return [name for name in dict.fromkeys(
        subscription.name for subscription in loaded.adapter_class.router.subscriptions)
        if name in on_bus]


async def stop_adapter(host: AdapterHost, name: str, *, by: str) -> LoadedAdapter | Refused:
    """Stop a running adapter; what it is now, or why not."""
    loaded = _find(host, name)
    if loaded is None:
        return "not found"
    if loaded.instance is None or loaded.state != "running":
        return "not running"
    loaded.state = "stopping"  # a second stop meanwhile is refused, not run twice
    subscriptions = subscriptions_of(host, loaded)
    try:
        await host.bus.pause(*subscriptions)
    except Exception as error:  # stopped all the same; its messages may reach it
        log.exception("the subscriptions of adapter %s could not be paused", name)
        loaded.error = f"not paused: {type(error).__name__}: {error}"
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
    try:
        await host.bus.resume(*subscriptions_of(host, loaded))
    except Exception as error:
        log.exception("the subscriptions of adapter %s could not be resumed", name)
        loaded.error = f"not resumed: {type(error).__name__}: {error}"
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
