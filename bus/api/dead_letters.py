"""Dead letters: browse, inspect, replay (optionally with an edited body)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from bus.api.deps import BusDep
from bus.delivery.dead_letters import NotReplayable
from bus.envelope import decode
from bus.errors import EsbError

router = APIRouter(tags=["dead letters"])


class Replay(BaseModel):
    by: str = "api"
    envelope: dict[str, Any] | None = None
    """An edited envelope to send instead of the original; validated first."""


@router.get("/dlq")
async def list_dead_letters(
    bus: BusDep, queue: str | None = None, status: str | None = "dead",
    type_prefix: str | None = None, limit: int = 100,
) -> dict[str, Any]:
    records = await asyncio.to_thread(
        bus.dead_letters.list, queue=queue, status=status or None, type_prefix=type_prefix,
        limit=limit,
    )
    return {"dead_letters": [record.to_json() for record in records]}


@router.get("/dlq/{record_id}")
async def show_dead_letter(bus: BusDep, record_id: int) -> dict[str, Any]:
    record = await asyncio.to_thread(bus.dead_letters.get, record_id)
    if record is None:
        raise HTTPException(404, f"no dead letter {record_id}")
    return record.to_json(with_body=True)


@router.post("/dlq/{record_id}/replay", status_code=202)
async def replay_dead_letter(bus: BusDep, record_id: int, replay: Replay) -> dict[str, Any]:
    body = None
    if replay.envelope is not None:
        body = orjson.dumps(replay.envelope)
        try:
            bus.validate(decode(body))
        except EsbError as invalid:
            raise HTTPException(422, invalid.reason) from None
    try:
        await bus.replay(record_id, by=replay.by, body=body)
    except NotReplayable as refused:
        if await asyncio.to_thread(bus.dead_letters.get, record_id) is None:
            raise HTTPException(404, f"no dead letter {record_id}") from None
        raise HTTPException(409, str(refused)) from None
    return {"replayed": record_id, "edited": body is not None}
