"""Adapters: what is plugged in, its state and health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from bus.adapters import AdapterHost

router = APIRouter(tags=["adapters"])


@router.get("/adapters")
async def list_adapters(request: Request) -> dict[str, Any]:
    """Every discovered adapter: loaded, failed (with the error) or running, with health."""
    host: AdapterHost = request.app.state.adapters
    await host.refresh_health()
    return {"adapters": [loaded.to_json() for loaded in host.adapters]}
