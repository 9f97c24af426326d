"""The demo's stand-in for the CRM call log, until the CRM adapter lands.

It consumes ``pbx.call.ended.v1`` and "writes" each call to the CRM history (a log line).
Like a real CRM it needs the caller's number: a call without one (withheld or unknown
caller id) is dead-lettered with the reason, so the DLQ has something to show. The
subscription keeps its name, ``demo.call-log`` (queue ``esb.demo.call-log``).
"""

from __future__ import annotations

import logging
from typing import Any

from bus.errors import SchemaViolation
from bus.router import Router

__all__ = ["router"]

log = logging.getLogger(__name__)

router = Router(source="demo")


@router.subscriber("demo.call-log", "pbx.call.ended.v1")
async def log_call_in_crm_stand_in(payload: dict[str, Any]) -> None:
    """Writes each ended call to the (stand-in) CRM history."""
    if payload["caller_number"] is None:
        raise SchemaViolation("the CRM needs a caller number to log a call",
                              field="payload.caller_number")
    log.info("CRM stand-in: call %s from %s: %s, talk %ss", payload["linkedid"],
             payload["caller_number"], payload["disposition"], payload["talk_seconds"])
