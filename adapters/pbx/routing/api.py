"""Routing over HTTP, for the dialplan (Asterisk ``CURL()``) and for manual statuses.

Mounted by the PBX adapter under ``/v1/adapters/pbx/``:

* ``GET route?caller=&called=&linkedid=[&format=text]`` — the decision as JSON, or one
  line ``kind,dial,rule`` for ``CURL()``;
* ``GET presence`` — the presence board;
* ``PUT presence/{extension}`` ``{"status": "away", "reason": "lunch"}`` — a manual status
  (``null`` hands the extension back to the PBX's own states).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from adapters.pbx.routing.presence import ManualStatus
from adapters.pbx.routing.service import RoutingService

__all__ = ["routing_api"]

EXTENSION = r"^[0-9]{2,10}$"


class ManualStatusBody(BaseModel):
    status: ManualStatus | None
    reason: str = Field("", max_length=256)


def routing_api(routing: RoutingService) -> APIRouter:
    api = APIRouter(tags=["pbx routing"])

    @api.get("/route", response_model=None)
    async def route(
        caller: Annotated[str | None, Query(max_length=64)] = None,
        called: Annotated[str | None, Query(max_length=64)] = None,
        linkedid: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")
                            ] = None,
        format: Literal["json", "text"] = "json",
    ) -> Response:
        """Who takes this call: target extension(s), queue or voicemail, and why."""
        request = routing.request_of(linkedid or f"http-{uuid.uuid4().hex}", caller, called)
        decision = await routing.route(request)
        if format == "text":
            return PlainTextResponse(decision.to_text(routing.settings.dial_template))
        return JSONResponse(decision.to_json())

    @api.get("/presence")
    async def presence() -> dict[str, Any]:
        """Every extension routing knows, with what makes it free or not."""
        board = routing.presence
        return {"agents": {ext: {**agent.to_json(), "free": board.is_free(ext),
                                 "why_not_free": board.why_not_free(ext)}
                           for ext, agent in sorted(board.agents.items())}}

    @api.put("/presence/{extension}")
    async def set_presence(extension: Annotated[str, Path(pattern=EXTENSION)],
                           body: ManualStatusBody) -> dict[str, Any]:
        """Set (or clear with ``null``) an agent's manual status; stored at once."""
        agent = await routing.set_manual(extension, body.status, body.reason)
        return {"extension": extension, **agent.to_json(),
                "free": routing.presence.is_free(extension)}

    return api
