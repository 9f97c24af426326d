"""``/v1/sync``: status, xref, customers, conflicts (list, show, resolve)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from bus.api.auth import current_principal
from sync.canonical import canonical_id
from sync.lookup import answer, customer_view, history_of, iter_xref, status
from sync.service import SyncService
from sync.store.queue import get_conflict, list_conflicts, parse_conflict_id

__all__ = ["Resolve", "sync_api"]

MAX_OFFSET = 2**31 - 1
"""Beyond what any store holds, and within every database's 64-bit integers."""
MAX_ID = 2**63 - 1


class Resolve(BaseModel):
    """A person's answer to a conflict."""

    resolution: Literal["merge", "split", "keep_apart", "dismiss"]
    actor: str | None = Field(
        None, min_length=1, max_length=128,
        description="who decides; required when the API runs open, ignored otherwise: a "
                    "signed-in caller's name is recorded")
    note: str | None = Field(None, max_length=2000)


def sync_api(service: SyncService) -> APIRouter:
    routes = APIRouter(tags=["sync"])

    @routes.get("/status")
    def get_status() -> dict[str, Any]:
        with service.engine.connect() as connection:
            return status(connection)

    @routes.get("/xref")
    def get_xref(system: str | None = None, record_id: str | None = None,
                 limit: int = Query(1000, ge=1, le=100000),
                 offset: int = Query(0, ge=0, le=MAX_OFFSET)
                 ) -> list[dict[str, Any]]:
        with service.engine.connect() as connection:
            if system and record_id:
                found = answer(connection, {"record": {"system": system, "id": record_id}})
                return [{"system": system, "record_id": canonical_id(record_id),
                         "global_id": view["golden_id"],
                         "history": history_of(connection, system, canonical_id(record_id))}
                        for view in found["customers"]]
            rows = iter_xref(connection)
            return [row for i, row in enumerate(rows) if offset <= i < offset + limit]

    @routes.get("/customers")
    def find_customers(golden_id: str | None = None, phone: str | None = None,
                       account_number: str | None = None, inn: str | None = None,
                       system: str | None = None, record_id: str | None = None
                       ) -> dict[str, Any]:
        query: dict[str, Any] = {"golden_id": golden_id, "phone": phone,
                                 "account_number": account_number, "inn": inn}
        if system and record_id:
            query["record"] = {"system": system, "id": record_id}
        with service.engine.connect() as connection:
            return answer(connection, {k: v for k, v in query.items() if v})

    @routes.get("/customers/{golden_id}")
    def get_customer(golden_id: str) -> dict[str, Any]:
        with service.engine.connect() as connection:
            found = answer(connection, {"golden_id": golden_id})
            if not found["customers"]:
                raise HTTPException(404, f"no customer {golden_id}")
            view = found["customers"][0]
            return customer_view(connection, view["golden_id"]) or view

    @routes.get("/conflicts")
    def get_conflicts(state: str | None = "open", kind: str | None = None,
                      golden_id: str | None = None, limit: int = Query(100, ge=1, le=10000),
                      offset: int = Query(0, ge=0, le=MAX_OFFSET)
                      ) -> list[dict[str, Any]]:
        with service.engine.connect() as connection:
            return [c.to_json() for c in list_conflicts(
                connection, state=state or None, kind=kind, global_id=golden_id,
                limit=limit, offset=offset)]

    @routes.get("/conflicts/{conflict_id}")
    def get_one_conflict(conflict_id: str) -> dict[str, Any]:
        with service.engine.connect() as connection:
            stored = get_conflict(connection, _conflict_number(conflict_id))
        if stored is None:
            raise HTTPException(404, f"no conflict {conflict_id}")
        return stored.to_json()

    @routes.post("/conflicts/{conflict_id}/resolve")
    async def resolve(conflict_id: str, body: Resolve, request: Request) -> dict[str, Any]:
        number = _conflict_number(conflict_id)
        actor = _actor(request, body)
        try:
            outcome = await asyncio.to_thread(service.resolve, number, body.resolution,
                                              actor=actor, note=body.note)
        except LookupError as missing:
            raise HTTPException(404, str(missing)) from None
        except ValueError as refused:
            raise HTTPException(409, str(refused)) from None
        return outcome.to_json()

    return routes


def _actor(request: Request, body: Resolve) -> str:
    """The signed-in caller; the body's ``actor`` only when the API runs open."""
    principal = current_principal(request)
    if principal.authenticated:
        return principal.name
    if body.actor is None:
        raise RequestValidationError([{"loc": ("body", "actor"), "type": "missing",
                                       "msg": "who decides: required without sign-in",
                                       "input": None}])
    return body.actor


def _conflict_number(text: str) -> int:
    try:
        number = parse_conflict_id(text)
    except ValueError as bad:
        raise HTTPException(404, str(bad)) from None
    if number > MAX_ID:
        raise HTTPException(404, f"no conflict {text}")
    return number
