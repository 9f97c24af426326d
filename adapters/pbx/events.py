"""What the PBX logic produces: canonical events, before they become envelopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGENT_PRESENCE",
    "CALL_ANSWERED",
    "CALL_ENDED",
    "CALL_RINGING",
    "CALL_TRANSFERRED",
    "PUBLISHED_TYPES",
    "PbxEvent",
]

CALL_RINGING = "pbx.call.ringing.v1"
CALL_ANSWERED = "pbx.call.answered.v1"
CALL_TRANSFERRED = "pbx.call.transferred.v1"
CALL_ENDED = "pbx.call.ended.v1"
AGENT_PRESENCE = "pbx.agent.presence.v1"
PUBLISHED_TYPES = (CALL_RINGING, CALL_ANSWERED, CALL_TRANSFERRED, CALL_ENDED, AGENT_PRESENCE)


@dataclass(frozen=True, slots=True)
class PbxEvent:
    """One canonical event: its type, ordering key, PBX time and schema-shaped payload."""

    type: str
    key: str
    """The call's Linkedid (one call's events stay in order) or the agent's extension."""
    at_us: int
    """When it happened on the PBX (the AMI ``Timestamp``), microseconds since the epoch."""
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "payload": self.payload}
