"""What the simulated PBX knows right now, kept from the events it emits: channels up,
device states and callers waiting in queues. It answers ``CoreShowChannels``,
``QueueStatus`` and ``ExtensionStateList``.
"""

from __future__ import annotations

import time

from adapters.pbx.simulator.channels import Step

__all__ = ["PbxState"]

Block = list[tuple[str, str]]
CHANNEL_KEYS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
                "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
                "Exten", "Priority", "Uniqueid", "Linkedid")
EXTENSION_STATUS = {"NOT_INUSE": ("0", "Idle"), "INUSE": ("1", "InUse"),
                    "RINGING": ("8", "Ringing"), "UNAVAILABLE": ("4", "Unavailable")}
MEMBER_STATUS = {"NOT_INUSE": "1", "INUSE": "2", "RINGING": "6", "UNAVAILABLE": "5"}


class PbxState:
    def __init__(self, agents: tuple[str, ...], queue: str) -> None:
        self.agents = agents
        self.queue = queue
        self.channels: dict[str, dict[str, str]] = {}
        self.devices: dict[str, str] = {f"PJSIP/{a}": "NOT_INUSE" for a in agents}
        self.waiting: dict[str, dict[str, str]] = {}
        self.calls_taken: dict[str, int] = dict.fromkeys(agents, 0)
        self._since: dict[str, float] = {}

    def apply(self, step: Step) -> None:
        fields = dict(step.fields)
        uniqueid = fields.get("Uniqueid", "")
        if step.event in ("Newchannel", "Newstate", "Newexten") and uniqueid:
            self.channels[uniqueid] = {k: fields[k] for k in CHANNEL_KEYS if k in fields}
            if step.event == "Newexten":
                self.channels[uniqueid]["Application"] = fields.get("Application", "")
                self.channels[uniqueid]["ApplicationData"] = fields.get("AppData", "")
            self._since.setdefault(uniqueid, time.monotonic())
        elif step.event == "Hangup":
            self.channels.pop(uniqueid, None)
            self._since.pop(uniqueid, None)
            self.waiting.pop(uniqueid, None)
        elif step.event == "DeviceStateChange":
            self.devices[fields["Device"]] = fields["State"]
        elif step.event == "QueueCallerJoin":
            self.waiting[uniqueid] = fields
        elif step.event == "QueueCallerLeave":
            self.waiting.pop(uniqueid, None)
        elif step.event == "AgentComplete":
            for agent in self.agents:
                if fields.get("Interface", "").startswith(f"Local/{agent}@"):
                    self.calls_taken[agent] += 1

    def free_agents(self) -> list[str]:
        return [a for a in self.agents if self.devices.get(f"PJSIP/{a}") == "NOT_INUSE"]

    # -- list actions: (items, name of the closing event) ------------------------------

    def core_show_channels(self) -> tuple[list[tuple[str, Block]], str]:
        now = time.monotonic()
        items = []
        for uniqueid, channel in self.channels.items():
            seconds = int(now - self._since.get(uniqueid, now))
            duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            items.append(("CoreShowChannel", [
                *((k, channel.get(k, "")) for k in CHANNEL_KEYS),
                ("Application", channel.get("Application", "")),
                ("ApplicationData", channel.get("ApplicationData", "")),
                ("Duration", duration), ("BridgeId", "")]))
        return items, "CoreShowChannelsComplete"

    def queue_status(self) -> tuple[list[tuple[str, Block]], str]:
        items: list[tuple[str, Block]] = [("QueueParams", [
            ("Queue", self.queue), ("Max", "0"), ("Strategy", "ringall"),
            ("Calls", str(len(self.waiting))), ("Holdtime", "0"), ("TalkTime", "0"),
            ("Completed", str(sum(self.calls_taken.values()))), ("Abandoned", "0"),
            ("ServiceLevel", "60"), ("ServicelevelPerf", "0.0"), ("Weight", "0")])]
        for agent in self.agents:
            state = self.devices.get(f"PJSIP/{agent}", "NOT_INUSE")
            items.append(("QueueMember", [
                ("Queue", self.queue), ("Name", agent),
                ("Location", f"Local/{agent}@from-queue/n"),
                ("StateInterface", f"PJSIP/{agent}"), ("Membership", "dynamic"),
                ("Penalty", "0"), ("CallsTaken", str(self.calls_taken[agent])),
                ("LastCall", "0"), ("LastPause", "0"),
                ("InCall", "1" if state == "INUSE" else "0"),
                ("Status", MEMBER_STATUS.get(state, "0")), ("Paused", "0"),
                ("PausedReason", "")]))
        for position, caller in enumerate(self.waiting.values(), 1):
            items.append(("QueueEntry", [
                ("Queue", self.queue), ("Position", str(position)),
                *((k, caller.get(k, "")) for k in ("Channel", "Uniqueid", "CallerIDNum",
                                                    "CallerIDName", "ConnectedLineNum",
                                                    "ConnectedLineName")),
                ("Wait", "0"), ("Priority", "0")]))
        return items, "QueueStatusComplete"

    def extension_state_list(self) -> tuple[list[tuple[str, Block]], str]:
        items = []
        for agent in self.agents:
            state = self.devices.get(f"PJSIP/{agent}", "NOT_INUSE")
            code, text = EXTENSION_STATUS.get(state, ("-1", "Unknown"))
            items.append(("ExtensionStatus", [
                ("Exten", agent), ("Context", "ext-local"),
                ("Hint", f"PJSIP/{agent}&Custom:DND{agent}"), ("Status", code),
                ("StatusText", text)]))
        return items, "ExtensionStateListComplete"
