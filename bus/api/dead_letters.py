"""Dead letters: browse, inspect, replay (optionally with an edited body)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel

from bus.api.audit import note
from bus.api.auth import current_principal, sees_pii
from bus.api.deps import BusDep
from bus.delivery.dead_letters import NotReplayable
from bus.envelope import decode
from bus.errors import EsbError
from bus.masking import mask_payload, mask_text

router = APIRouter(tags=["dead letters"])

RecordId = Annotated[int, Path(ge=1, le=2**63 - 1, description="a dead letter's id")]


class Refusal(BaseModel):
    """Why a replay was refused: the reason an edited envelope is invalid, or the request's
    validation errors."""

    detail: str | list[dict[str, Any]]


class Replay(BaseModel):
    by: str = "api"
    """Who replays, when the API runs open; a signed-in caller is recorded by their name."""
    envelope: dict[str, Any] | None = None
    """An edited envelope to send instead of the original; validated first."""


@router.get("/dlq")
async def list_dead_letters(
    bus: BusDep, request: Request, queue: str | None = None, status: str | None = "dead",
    type_prefix: str | None = None, limit: int = 100,
) -> dict[str, Any]:
    records = await asyncio.to_thread(
        bus.dead_letters.list, queue=queue, status=status or None, type_prefix=type_prefix,
        limit=limit,
    )
    unmasked = sees_pii(current_principal(request))
    fields = bus.settings.journal.masked_fields
    return {"dead_letters": [record.to_json() if unmasked else _masked(record.to_json(), fields)
                             for record in records]}


@router.get("/dlq/{record_id}")
async def show_dead_letter(bus: BusDep, request: Request, record_id: RecordId) -> dict[str, Any]:
    record = await asyncio.to_thread(bus.dead_letters.get, record_id)
    if record is None:
        raise HTTPException(404, f"no dead letter {record_id}")
    shown = record.to_json(with_body=True)
    if sees_pii(current_principal(request)):
        return shown
    return _masked(shown, bus.settings.journal.masked_fields)


@router.post("/dlq/{record_id}/replay", status_code=202, responses={422: {"model": Refusal}})
async def replay_dead_letter(
    bus: BusDep, request: Request, record_id: RecordId, replay: Replay,
) -> dict[str, Any]:
    principal = current_principal(request)
    by = principal.name if principal.authenticated else replay.by
    note(request, "dlq.edit_and_replay" if replay.envelope is not None else "dlq.replay",
         target=str(record_id))
    body = None
    if replay.envelope is not None:
        body = orjson.dumps(replay.envelope)
        try:
            bus.validate(decode(body))
        except EsbError as invalid:
            raise HTTPException(422, invalid.reason) from None
    try:
        await bus.replay(record_id, by=by, body=body)
    except NotReplayable as refused:
        if await asyncio.to_thread(bus.dead_letters.get, record_id) is None:
            raise HTTPException(404, f"no dead letter {record_id}") from None
        raise HTTPException(409, str(refused)) from None
    return {"replayed": record_id, "edited": body is not None}


def _masked(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """``record`` with passports and INNs masked in its bodies and error text."""
    shown = dict(record)
    for name in ("body", "replayed_body", "error", "reason"):
        value = shown.get(name)
        if isinstance(value, str):
            shown[name] = _masked_text(value, fields)
    return shown


def _masked_text(text: str, fields: tuple[str, ...]) -> str:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return mask_text(text)
    return orjson.dumps(mask_payload(parsed, fields, scan_text=True)).decode()
