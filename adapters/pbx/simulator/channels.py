"""Channels and call scripts: the building blocks of the simulator's AMI event sequences.

A :class:`CallScript` is a call written in advance as ``(offset seconds, event)`` steps on
the call's own clock; the server plays it later, stamping each event with its time. Field
order and values follow what Asterisk 18 (PJSIP, FreePBX-style dialplan) emits, as in the
recorded transcripts.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

__all__ = ["STATE_DESC", "CallScript", "Channel", "Ids", "Step"]

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
Fields = list[tuple[str, str]]


class Ids:
    """Uniqueids (``<epoch>.<n>``), PJSIP/Local channel suffixes and bridge ids of one PBX."""

    def __init__(self) -> None:
        self._uid = itertools.count(1000)
        self._pjsip = itertools.count(0x10)
        self._local = itertools.count(1)
        self._bridge = itertools.count(1)

    def uniqueid(self, epoch: float) -> str:
        return f"{int(epoch)}.{next(self._uid)}"

    def pjsip(self, endpoint: str) -> str:
        return f"PJSIP/{endpoint}-{next(self._pjsip):08x}"

    def local_pair(self, extension: str) -> tuple[str, str]:
        base = f"Local/{extension}@from-queue-{next(self._local):08x}"
        return f"{base};1", f"{base};2"

    def bridge(self) -> str:
        n = next(self._bridge)
        return f"{n:08x}-5e1a-4c0d-9a7b-{n:012x}"


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str = "<unknown>"
    context: str = "from-internal"
    exten: str = "s"
    state: int = 0
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    priority: int = 1

    def fields(self, prefix: str = "") -> Fields:
        return [(prefix + k, v) for k, v in (
            ("Channel", self.name), ("ChannelState", str(self.state)),
            ("ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            ("CallerIDNum", self.caller_num), ("CallerIDName", self.caller_name),
            ("ConnectedLineNum", self.connected_num), ("ConnectedLineName", self.connected_name),
            ("Language", "ru"), ("AccountCode", ""), ("Context", self.context),
            ("Exten", self.exten), ("Priority", str(self.priority)),
            ("Uniqueid", self.uniqueid), ("Linkedid", self.linkedid))]

    @property
    def device(self) -> str:
        """``PJSIP/2001`` for ``PJSIP/2001-0000001b``."""
        return self.name.rsplit("-", 1)[0]


@dataclass(frozen=True, slots=True)
class Step:
    offset: float
    event: str
    fields: tuple[tuple[str, str], ...]


@dataclass
class CallScript:
    """One call's events on its own clock; ``wait`` moves the clock, each event adds 0.5 ms."""

    start: float
    """Wall-clock (simulated) epoch of the first event, for Uniqueids."""
    ids: Ids
    steps: list[Step] = field(default_factory=list)
    now: float = 0.0

    def wait(self, seconds: float) -> None:
        self.now += seconds

    def emit(self, event: str, *groups: Fields) -> None:
        self.steps.append(Step(self.now, event, tuple(itertools.chain(*groups))))
        self.now += 0.0005

    def channel(self, name: str, caller_num: str, *, linked: Channel | None = None,
                caller_name: str = "<unknown>", context: str = "from-internal",
                exten: str = "s", state: int = 0) -> Channel:
        """A new channel and its ``Newchannel`` event."""
        uniqueid = self.ids.uniqueid(self.start + self.now)
        channel = Channel(name, uniqueid, linked.linkedid if linked else uniqueid, caller_num,
                          caller_name, context, exten, state)
        self.emit("Newchannel", channel.fields())
        return channel

    def state(self, channel: Channel, state: int) -> None:
        channel.state = state
        self.emit("Newstate", channel.fields())

    def device(self, device: str, state: str) -> None:
        self.emit("DeviceStateChange", [("Device", device), ("State", state)])
        extension = device.split("/", 1)[1]
        if device.startswith("PJSIP/") and extension.isdigit():
            code, text = {"RINGING": ("8", "Ringing"), "INUSE": ("1", "InUse"),
                          "NOT_INUSE": ("0", "Idle")}.get(state, ("-1", "Unknown"))
            self.emit("ExtensionStatus", [
                ("Exten", extension), ("Context", "ext-local"),
                ("Hint", f"{device}&Custom:DND{extension}"), ("Status", code),
                ("StatusText", text)])

    def dialplan(self, channel: Channel, application: str, data: str) -> None:
        self.emit("Newexten", channel.fields(), [
            ("Extension", channel.exten), ("Application", application), ("AppData", data)])

    def varset(self, channel: Channel, variable: str, value: str) -> None:
        self.emit("VarSet", channel.fields(), [("Variable", variable), ("Value", value)])

    def dial_begin(self, source: Channel | None, dest: Channel, dial_string: str) -> None:
        self.emit("DialBegin", source.fields() if source else [], dest.fields("Dest"),
                  [("DialString", dial_string)])

    def dial_end(self, source: Channel | None, dest: Channel, status: str) -> None:
        self.emit("DialEnd", source.fields() if source else [], dest.fields("Dest"),
                  [("DialStatus", status)])

    def bridge(self, *channels: Channel) -> str:
        bridge = self.ids.bridge()
        self.emit("BridgeCreate", self.bridge_fields(bridge, 0))
        for n, channel in enumerate(channels, 1):
            self.emit("BridgeEnter", self.bridge_fields(bridge, n), channel.fields())
        return bridge

    def leave(self, bridge: str, channel: Channel, remaining: int) -> None:
        self.emit("BridgeLeave", self.bridge_fields(bridge, remaining), channel.fields())
        if remaining == 0:
            self.emit("BridgeDestroy", self.bridge_fields(bridge, 0))

    def hangup(self, channel: Channel, cause: int, *, request: bool = False) -> None:
        if request:
            self.emit("HangupRequest", channel.fields())
        text = {16: "Normal Clearing", 17: "User busy", 19: "User alerting, no answer",
                26: "Answered elsewhere"}.get(cause, "Unknown")
        self.emit("Hangup", channel.fields(), [("Cause", str(cause)), ("Cause-txt", text)])

    @staticmethod
    def bridge_fields(bridge: str, count: int) -> Fields:
        return [("BridgeUniqueid", bridge), ("BridgeType", "basic"),
                ("BridgeTechnology", "simple_bridge"), ("BridgeCreator", "<unknown>"),
                ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(count)),
                ("BridgeVideoSourceMode", "none")]
