"""Adapters: what is plugged in, its state and health."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request

from bus.adapters import AdapterHost
from bus.adapters.host import start_adapter, stop_adapter, subscriptions_of
from bus.adapters.registry import LoadedAdapter
from bus.api.audit import note
from bus.api.auth import current_principal

router = APIRouter(tags=["adapters"])


@router.get("/adapters")
async def list_adapters(request: Request) -> dict[str, Any]:
    """Every discovered adapter: loaded, failed (with the error), running or stopped, with
    health and its subscriptions (``paused`` while it is stopped)."""
    host: AdapterHost = request.app.state.adapters
    await host.refresh_health()
    return {"adapters": [_shown(host, loaded) for loaded in host.adapters]}


def _shown(host: AdapterHost, loaded: LoadedAdapter) -> dict[str, Any]:
    paused = host.bus.paused
    return {**loaded.to_json(), "subscriptions": [
        {"name": name, "paused": name in paused} for name in subscriptions_of(host, loaded)]}


AdapterName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
_LIFECYCLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no adapter of that name"},
    409: {"description": "not running (to stop) or not stopped (to start)"}}


@router.post("/adapters/{name}/stop", responses=_LIFECYCLE_RESPONSES)
async def stop(name: AdapterName, request: Request) -> dict[str, Any]:
    """Stop a running adapter: its subscriptions are paused (their messages wait in their
    queues), then its connections and pollers stopped; the bus and the other adapters go
    on. Audited as ``adapter.stop``."""
    return await _change(request, name, "stop")


@router.post("/adapters/{name}/start", responses=_LIFECYCLE_RESPONSES)
async def start(name: AdapterName, request: Request) -> dict[str, Any]:
    """Start again an adapter stopped through the API and resume its subscriptions (their
    backlog drains). Audited as ``adapter.start``."""
    return await _change(request, name, "start")


async def _change(request: Request, name: str, action: Literal["stop", "start"]
                  ) -> dict[str, Any]:
    host: AdapterHost = request.app.state.adapters
    note(request, f"adapter.{action}", target=name)
    change = stop_adapter if action == "stop" else start_adapter
    outcome = await change(host, name, by=current_principal(request).name)
    if outcome == "not found":
        raise HTTPException(404, f"no adapter {name!r}")
    if isinstance(outcome, str):
        raise HTTPException(409, f"adapter {name!r} is {outcome}")
    return _shown(host, outcome)
