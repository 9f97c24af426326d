"""From a ``pbx.call.ended.v1`` payload to call-store rows: pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from adapters.pbx.mapping import to_e164

__all__ = ["call_rows", "epoch_us"]

_EXTENSION = re.compile(r"^[0-9]{2,10}$")


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return int(moment.timestamp() * 1_000_000)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _e164(call: Mapping[str, Any], customer_side: str, number: Any,
          region: str) -> str | None:
    """``number`` in E.164: the event's ``customer_e164`` when ``number`` is the customer's
    (the caller of an inbound call, the dialled number of an outbound one) and the PBX
    adapter set it; else parsed here (events of older producers, our own DIDs)."""
    if call.get("direction") == customer_side and "customer_e164" in call:
        found = call["customer_e164"]
        return found if isinstance(found, str) else None
    return to_e164(number, region)


def call_rows(call: Mapping[str, Any], message_id: str, zone: ZoneInfo,
              region: str = "RU") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``pbx_calls`` row and the ``pbx_call_participants`` rows of one ended call
    (the record itself goes to ``pbx_call_records`` as it is)."""
    started = _parse(str(call["started_at"]))
    local = started.astimezone(zone)
    started_us = epoch_us(started)
    targets = [str(t) for t in call.get("ring_targets") or []]
    answered_by = call.get("answered_by_extension")
    direction = str(call["direction"])
    caller = call.get("caller_number")
    row = {
        "linkedid": str(call["linkedid"]),
        "message_id": message_id,
        "direction": direction,
        "disposition": str(call.get("disposition") or "failed"),
        "queue": call.get("queue"),
        "answered_by": answered_by,
        "caller_e164": _e164(call, "inbound", caller, region),
        "called_e164": _e164(call, "outbound", call.get("called_number"), region),
        "started_us": started_us,
        "local_hour": local.hour,
        "local_weekday": local.isoweekday(),
        "ring_targets": len(targets),
        "ring_seconds": int(call.get("ring_seconds") or 0),
        "talk_seconds": int(call.get("talk_seconds") or 0),
    }
    placed_by = caller if direction == "outbound" and caller and _EXTENSION.match(caller) else None
    people = dict.fromkeys([*targets, *([answered_by] if answered_by else []),
                            *([placed_by] if placed_by else [])])
    unanswered = row["disposition"] != "answered"
    participants = [
        {"linkedid": row["linkedid"], "extension": extension, "started_us": started_us,
         "queue": row["queue"], "rang": int(extension in targets),
         "answered": int(extension == answered_by),
         "missed": int(extension in targets and unanswered),
         "placed": int(extension == placed_by), "ring_seconds": row["ring_seconds"],
         "talk_seconds": row["talk_seconds"]}
        for extension in people
    ]
    return row, participants
