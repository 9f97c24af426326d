"""Dependencies shared by the API routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bus.app import Bus

__all__ = ["BusDep"]


async def _bus(request: Request) -> Bus:
    # async: FastAPI runs a plain ``def`` dependency in anyio's thread pool (40 threads),
    # a thread hop per request for a lookup
    bus: Bus = request.app.state.bus
    return bus


BusDep = Annotated[Bus, Depends(_bus)]
