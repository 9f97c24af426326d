"""Agent presence from AMI events: device state, queue membership, pauses.

Pure logic, no I/O. Rules (as in the AMI fixtures' README):

* ``DeviceStateChange`` of ``PJSIP/<ext>`` (not trunks, ``Queue:``, ``Custom:``) gives the
  device state; a state equal to the extension's previous one is not repeated;
* ``ExtensionStatus`` (hint state) tells the same story and is used only while the stream
  has shown no ``DeviceStateChange``;
* ``QueueMemberAdded`` / ``QueueMemberRemoved`` -> logged_in / logged_out,
  ``QueueMemberPause`` (``QueueMemberPaused`` before Asterisk 12) -> paused (with the
  reason) / unpaused; ``QueueMemberStatus`` mirrors the device state and adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.events import AGENT_PRESENCE, PbxEvent
from adapters.pbx.mapping import ChannelRules, iso, short_text

__all__ = ["DEVICE_STATES", "EXTENSION_STATES", "PresenceTracker"]

DEVICE_STATES = {
    "NOT_INUSE": "idle", "INUSE": "in_call", "BUSY": "busy", "RINGING": "ringing",
    "RINGINUSE": "ringing", "ONHOLD": "on_hold", "UNAVAILABLE": "offline",
    "INVALID": "offline", "UNKNOWN": "unknown",
}
EXTENSION_STATES = {
    0: "idle", 1: "in_call", 2: "busy", 4: "offline", 8: "ringing", 9: "ringing",
    16: "on_hold", 17: "on_hold", -1: "unknown", -2: "unknown",
}


class PresenceTracker:
    def __init__(self, rules: ChannelRules | None = None) -> None:
        self.rules = rules or ChannelRules()
        self.device_state: dict[str, str] = {}
        self.membership: dict[tuple[str, str], bool] = {}
        """(extension, queue) -> paused, for every member logged in."""
        self._device_events_seen = False

    def handle(self, message: AmiMessage, at_us: int) -> list[PbxEvent]:
        name = message.name.lower()
        if name == "devicestatechange":
            self._device_events_seen = True
            extension = self.rules.device_extension(message.get("Device"))
            state = DEVICE_STATES.get((message.get("State") or "").upper(), "unknown")
            return self._device(extension, state, at_us)
        if name == "extensionstatus" and not self._device_events_seen:
            return self._extension_status(message, at_us)
        if name in ("queuememberadded", "queuememberremoved", "queuememberpause",
                    "queuememberpaused"):
            return self._queue(name, message, at_us)
        return []

    def reconcile_extensions(self, items: Sequence[AmiMessage], now_us: int) -> list[PbxEvent]:
        """``ExtensionStateList`` after a reconnect: report what changed meanwhile."""
        out: list[PbxEvent] = []
        for item in items:
            out += self._extension_status(item, now_us)
        return out

    def reconcile_queues(self, members: Sequence[AmiMessage], queues: Sequence[str],
                         now_us: int) -> list[PbxEvent]:
        """``QueueStatus`` after a reconnect: logins, logouts and pauses that were missed."""
        out: list[PbxEvent] = []
        present: set[tuple[str, str]] = set()
        for item in members:
            extension = self._member_extension(item)
            queue = short_text(item.get("Queue"))
            if extension is None or not queue:
                continue
            present.add((extension, queue))
            paused = item.get("Paused") == "1"
            if (extension, queue) not in self.membership:
                out.append(self._queue_event(extension, queue, "logged_in", now_us))
                self.membership[(extension, queue)] = False
            if self.membership[(extension, queue)] != paused:
                state = "paused" if paused else "unpaused"
                out.append(self._queue_event(extension, queue, state, now_us,
                                             reason=item.get("PausedReason") or ""))
                self.membership[(extension, queue)] = paused
        for extension, queue in [k for k in self.membership if k[1] in queues]:
            if (extension, queue) not in present:
                del self.membership[(extension, queue)]
                out.append(self._queue_event(extension, queue, "logged_out", now_us))
        return out

    # -- internals -------------------------------------------------------------

    def _extension_status(self, message: AmiMessage, at_us: int) -> list[PbxEvent]:
        extension = message.get("Exten")
        status = message.get("Status") or ""
        if not self.rules.is_extension_number(extension):
            return []
        try:
            state = EXTENSION_STATES.get(int(status), "unknown")
        except ValueError:
            state = "unknown"
        return self._device(extension, state, at_us)

    def _device(self, extension: str | None, state: str, at_us: int) -> list[PbxEvent]:
        if extension is None or self.device_state.get(extension) == state:
            return []
        self.device_state[extension] = state
        payload = {"extension": extension, "at": iso(at_us), "source": "device", "state": state}
        return [PbxEvent(AGENT_PRESENCE, extension, at_us, payload)]

    def _member_extension(self, message: AmiMessage) -> str | None:
        return (self.rules.extension(message.get("Interface"))
                or self.rules.extension(message.get("StateInterface")))

    def _queue(self, name: str, message: AmiMessage, at_us: int) -> list[PbxEvent]:
        extension = self._member_extension(message)
        queue = short_text(message.get("Queue"))
        if extension is None or not queue:
            return []
        key = (extension, queue)
        if name == "queuememberadded":
            self.membership[key] = False
            return [self._queue_event(extension, queue, "logged_in", at_us)]
        if name == "queuememberremoved":
            self.membership.pop(key, None)
            return [self._queue_event(extension, queue, "logged_out", at_us)]
        paused = message.get("Paused") == "1"
        self.membership[key] = paused
        reason = message.get("PausedReason") or message.get("Reason") or ""
        return [self._queue_event(extension, queue, "paused" if paused else "unpaused", at_us,
                                  reason=reason)]

    @staticmethod
    def _queue_event(extension: str, queue: str, state: str, at_us: int, *,
                     reason: str = "") -> PbxEvent:
        payload: dict[str, Any] = {"extension": extension, "at": iso(at_us), "source": "queue",
                                   "queue": queue, "state": state}
        if state == "paused":
            payload["reason"] = short_text(reason)
        return PbxEvent(AGENT_PRESENCE, extension, at_us, payload)
