"""Journal search: messages and the path each took through the bus."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from bus.api.deps import BusDep

router = APIRouter(tags=["journal"])


@router.get("/messages")
async def search_messages(
    bus: BusDep,
    correlation_id: str | None = None,
    type: str | None = None,
    type_prefix: str | None = None,
    key: str | None = Query(None, description="phone, account, customer id or INN"),
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
) -> dict[str, Any]:
    """Messages matching every filter, newest first, with their hops."""
    try:
        page = await asyncio.to_thread(
            bus.observability.query.search,
            correlation_id=correlation_id, type=type, type_prefix=type_prefix, key=key,
            status=status, since=since, until=until, limit=limit, after_cursor=cursor,
        )
    except ValueError as invalid:  # a cursor that is not one of ours
        raise HTTPException(400, str(invalid)) from None
    return {"messages": [entry.to_dict() for entry in page.entries],
            "next_cursor": page.next_cursor}


@router.get("/messages/{message_id}")
async def get_message(bus: BusDep, message_id: str) -> dict[str, Any]:
    """One message with every hop: status, subscriber, latency, trace id."""
    entry = await asyncio.to_thread(bus.observability.query.get, message_id)
    if entry is None:
        raise HTTPException(404, f"no message {message_id} in the journal")
    return entry.to_dict()
