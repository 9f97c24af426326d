"""The demo's call-quality check: a subscriber that makes the dead-letter queue worth a look.

It consumes ``pbx.call.ended.v1`` beside the CRM adapter and refuses a call without
the caller's number (withheld or unknown caller id) with the reason, as a strict
downstream system would: such calls land in ``esb.demo.call-log.dlq``, where the
console and ``esb dlq`` show them, and an operator can edit and replay them.
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
async def check_call_has_caller_number(payload: dict[str, Any]) -> None:
    """A call record downstream systems can use names its caller."""
    if payload["caller_number"] is None:
        raise SchemaViolation("the CRM needs a caller number to log a call",
                              field="payload.caller_number")
    log.info("call %s from %s: %s, talk %ss", payload["linkedid"],
             payload["caller_number"], payload["disposition"], payload["talk_seconds"])
