"""The call store on the bus: fed by ``pbx.call.ended.v1``, answering ``pbx.calls.requested.v1``.

Included into the PBX adapter's router; the adapter provides the :class:`CallStore`.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from adapters.pbx.callstore.store import DEFAULT_LIMIT, CallStore
from adapters.pbx.events import CALL_ENDED
from bus.envelope import Envelope
from bus.router import Router

__all__ = ["CALLS_REPLIED", "CALLS_REQUESTED", "calls_router"]

log = logging.getLogger(__name__)

CALLS_REQUESTED = "pbx.calls.requested.v1"
CALLS_REPLIED = "pbx.calls.replied.v1"

calls_router = Router(source="pbx")


@calls_router.subscriber("pbx.call-store", CALL_ENDED)
def store_ended_call(envelope: Envelope, store: CallStore) -> None:
    """Keep every ended call once (by Linkedid) for the history and the analytics."""
    if not store.record(envelope.payload, envelope.id):
        log.info("call %s is stored already; %s ignored", envelope.payload.get("linkedid"),
                 envelope.id)


@calls_router.responder(CALLS_REQUESTED, CALLS_REPLIED)
def recent_calls(payload: dict[str, Any], store: CallStore) -> dict[str, Any]:
    """Recent calls of a phone (E.164) or an agent extension, newest first."""
    limit = int(payload.get("limit") or DEFAULT_LIMIT)
    try:
        found = store.recent(phone=payload.get("phone"), extension=payload.get("extension"),
                             limit=limit)
    except SQLAlchemyError as error:
        log.error("the call store did not answer: %s", error)
        return {"calls": [], "error": {"code": "unavailable",
                                       "message": "the call store is unavailable"}}
    return {"calls": found, "error": None}
