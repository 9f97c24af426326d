"""Health, readiness, metrics and topology."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response

from bus.api.deps import BusDep
from bus.telemetry import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(bus: BusDep, response: Response) -> dict[str, Any]:
    """The broker and the database both answer."""
    broker = bus.running and await _broker_answers(bus)
    database = await asyncio.to_thread(_database_answers, bus.engine)
    if not (broker and database):
        response.status_code = 503
    return {"status": "ready" if broker and database else "not ready",
            "broker": broker, "database": database}


@router.get("/metrics")
async def metrics(bus: BusDep) -> Response:
    """Prometheus text exposition."""
    await bus.observability.refresh_queue_depths(bus)
    return Response(bus.observability.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/v1/topology")
async def topology(bus: BusDep) -> dict[str, Any]:
    """Exchange, subscription queues with bindings, dead-letter and retry queues."""
    return await bus.topology()


async def _broker_answers(bus: BusDep) -> bool:
    try:
        return await asyncio.wait_for(bus.transport.healthy(), 2.0)
    except Exception:
        return False


def _database_answers(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except sa.exc.SQLAlchemyError:
        return False
    return True
