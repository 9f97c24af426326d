"""Demo traffic for ``esb demo``: canonical call events, so the journal has a live flow.

This is synthetic traffic published straight onto the bus; it stands in for
the PBX adapter's AMI simulator until that lands. A demo subscriber plays the
CRM call log and dead-letters calls without a caller number, so the DLQ has
something to show.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bus.app import Bus
from bus.envelope import Envelope
from bus.errors import SchemaViolation
from bus.router import Router

__all__ = ["generate_calls", "router"]

log = logging.getLogger(__name__)

router = Router(source="demo")

AGENTS = ("2001", "2002", "2003", "2004")


@router.subscriber("demo.call-log", "pbx.call.ended.v1")
async def log_call(payload: dict[str, Any]) -> None:
    """Writes each ended call to the (demo) CRM history."""
    if payload["caller_number"] is None:
        raise SchemaViolation("the CRM needs a caller number to log a call",
                              field="payload.caller_number")
    log.info("call %s from %s: %s, talk %ss", payload["linkedid"], payload["caller_number"],
             payload["disposition"], payload["talk_seconds"])


def _call(number: int, now: datetime) -> dict[str, Any]:
    caller = None if number % 17 == 0 else f"+7916{random.randint(0, 9_999_999):07d}"
    return {
        "linkedid": f"{now.timestamp():.0f}.{number}",
        "direction": "inbound",
        "caller_number": caller,
        "called_number": "74951234567",
        "queue": "support",
        "ring_targets": list(AGENTS[:3]),
        "started_at": now.isoformat().replace("+00:00", "Z"),
    }


async def generate_calls(bus: Bus, interval: float = 2.0) -> None:
    """Ringing, answered and ended events for a new call every ``interval`` seconds."""
    number = 0
    while True:
        number += 1
        now = datetime.now(UTC)
        call = _call(number, now)
        ringing = Envelope(type="pbx.call.ringing.v1", payload=call, source="demo-pbx",
                           key=call["linkedid"])
        agent = random.choice(AGENTS[:3])
        answered_at = now + timedelta(seconds=4)
        answered = ringing.caused("pbx.call.answered.v1", {
            **call, "answered_by_extension": agent,
            "answered_at": answered_at.isoformat().replace("+00:00", "Z"), "ring_seconds": 4,
        }, source="demo-pbx")
        ended = ringing.caused("pbx.call.ended.v1", {
            **answered.payload, "ended_at": (answered_at + timedelta(seconds=60))
            .isoformat().replace("+00:00", "Z"),
            "talk_seconds": 60, "disposition": "answered", "transferred_to": None,
            "hangup_cause": 16,
        }, source="demo-pbx")
        try:
            await bus.publish_many([ringing, answered, ended])
        except Exception:
            log.exception("demo traffic could not publish")
        await asyncio.sleep(interval)
