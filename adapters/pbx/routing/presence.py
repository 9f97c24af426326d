"""Who is free right now: the PBX's presence events plus manual statuses, in memory.

``pbx.agent.presence.v1`` payloads (from the adapter's ``PresenceTracker`` or the bus) and
manual statuses set through the API update one :class:`AgentStatus` per extension. The
board is what routing reads on every call, so reading it does no I/O; :mod:`.store`
snapshots it to SQL and restores it after a restart.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["BUSY_DEVICE_STATES", "AgentStatus", "ManualStatus", "PresenceBoard"]

ManualStatus = Literal["available", "away", "busy", "offline"]
BUSY_DEVICE_STATES = frozenset({"in_call", "busy", "ringing", "on_hold", "offline"})


@dataclass(slots=True)
class AgentStatus:
    device: str = "unknown"
    queues: set[str] = field(default_factory=set)
    """Queues the agent is logged in to."""
    paused: set[str] = field(default_factory=set)
    """Queues the agent is paused in."""
    manual: ManualStatus | None = None
    manual_reason: str = ""
    updated_at: float = 0.0
    seen_at: dict[str, str] = field(default_factory=dict)
    """PBX time of the last change applied, per source ("device" or the queue's name): the
    same change arrives twice (in process and over the bus), and late ones are ignored."""

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "queues": sorted(self.queues),
                "paused": sorted(self.paused), "manual": self.manual,
                "manual_reason": self.manual_reason, "updated_at": self.updated_at}


class PresenceBoard:
    def __init__(self, *, assume_free_when_unknown: bool = True) -> None:
        self.agents: dict[str, AgentStatus] = {}
        self.assume_free_when_unknown = assume_free_when_unknown
        self.version = 0
        """Bumped on every change, so a snapshot knows whether there is anything new."""

    def _agent(self, extension: str) -> AgentStatus:
        agent = self.agents.get(extension)
        if agent is None:
            agent = self.agents[extension] = AgentStatus()
        return agent

    def apply(self, event: Mapping[str, Any]) -> None:
        """One ``pbx.agent.presence.v1`` payload."""
        extension = str(event.get("extension") or "")
        state = str(event.get("state") or "")
        if not extension or not state:
            return
        agent = self._agent(extension)
        queue = str(event.get("queue") or "")
        by_queue = event.get("source") == "queue" and bool(queue)
        channel = queue if by_queue else "device"
        at = str(event.get("at") or "")
        last = agent.seen_at.get(channel)
        if at and last and _earlier(at, last):
            return
        if at:
            agent.seen_at[channel] = at
        if by_queue:
            if state == "logged_in":
                agent.queues.add(queue)
            elif state == "logged_out":
                agent.queues.discard(queue)
                agent.paused.discard(queue)
            elif state == "paused":
                agent.paused.add(queue)
            elif state == "unpaused":
                agent.paused.discard(queue)
        else:
            agent.device = state
        agent.updated_at = time.time()
        self.version += 1

    def apply_all(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            self.apply(event)

    def set_manual(self, extension: str, status: ManualStatus | None, reason: str = "") -> None:
        """A status an agent or supervisor set by hand; None hands it back to the PBX."""
        agent = self._agent(extension)
        agent.manual = status
        agent.manual_reason = reason if status is not None else ""
        agent.updated_at = time.time()
        self.version += 1

    def why_not_free(self, extension: str) -> str | None:
        """None if the extension can take a call now, else the reason it cannot."""
        agent = self.agents.get(extension)
        if agent is None:
            return None if self.assume_free_when_unknown else "no presence known"
        if agent.manual in ("away", "busy", "offline"):
            reason = f" ({agent.manual_reason})" if agent.manual_reason else ""
            return f"set {agent.manual} by hand{reason}"
        if agent.device in BUSY_DEVICE_STATES:
            return f"device {agent.device}"
        if agent.device == "unknown" and agent.manual != "available" \
                and not self.assume_free_when_unknown:
            return "device state unknown"
        if agent.paused:
            return f"paused in {', '.join(sorted(agent.paused))}"
        return None

    def is_free(self, extension: str) -> bool:
        return self.why_not_free(extension) is None


def _earlier(at: str, than: str) -> bool:
    """RFC 3339 instants; the PBX adapter writes one fixed UTC form, compared as text."""
    if len(at) == len(than) and at.endswith("Z") and than.endswith("Z"):
        return at < than
    try:
        return dt.datetime.fromisoformat(at) < dt.datetime.fromisoformat(than)
    except ValueError:
        return False
