"""What the events held for a snapshot tell about the channels of calls we do not know.

While the adapter waits for ``CoreShowChannels`` (its first login, a reconnect), the events
of a call already in progress keep coming and are held. Those that reach the adapter
before the snapshot is taken are already reflected in it: a call whose last channel hung
up then is missing from the snapshot, and a channel that hung up then (the agent's phone,
say) is missing from its call. Read from the held events, such channels are not lost:
:func:`held_channels` turns them into ``CoreShowChannel``-like items (the latest of their
fields, the bridge they were last in) so that the calls can be adopted from them, and the
held events, applied next, finish them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from adapters.pbx.ami.protocol import AmiMessage

__all__ = ["HeldChannels", "held_channels"]

CHANNEL_FIELDS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum",
                  "ConnectedLineNum", "Uniqueid", "Linkedid")
BRIDGE_EVENTS = frozenset({"BridgeEnter", "BridgeLeave"})


@dataclass(slots=True)
class HeldChannels:
    items: dict[str, dict[str, AmiMessage]] = field(default_factory=dict)
    """Linkedid -> Uniqueid -> a ``CoreShowChannel``-like item built from its events."""
    hung_up: set[str] = field(default_factory=set)
    """Uniqueids whose ``Hangup`` is among the events."""
    started: set[str] = field(default_factory=set)
    """Linkedids whose first channel's ``Newchannel`` is among the events: calls the events
    show from their start (they need no adopting)."""
    first_us: dict[str, int] = field(default_factory=dict)
    """Linkedid -> PBX time of its first event among them."""


def held_channels(messages: Iterable[AmiMessage]) -> HeldChannels:
    fields: dict[str, dict[str, dict[str, str]]] = {}
    held = HeldChannels()
    for message in messages:
        linkedid, uniqueid = message.get("Linkedid"), message.get("Uniqueid")
        if not linkedid or not uniqueid:
            continue
        if message.name == "Newchannel" and uniqueid == linkedid:
            held.started.add(linkedid)
        at_us = message.timestamp_us
        if at_us is not None:
            held.first_us.setdefault(linkedid, at_us)
        channel = fields.setdefault(linkedid, {}).setdefault(uniqueid, {"BridgeId": ""})
        for key in CHANNEL_FIELDS:
            value = message.get(key)
            if value is not None:
                channel[key] = value
        if message.name in BRIDGE_EVENTS:
            channel["BridgeId"] = message.get("BridgeUniqueid") or channel["BridgeId"]
        elif message.name == "Hangup":
            held.hung_up.add(uniqueid)
    held.items = {
        linkedid: {uid: AmiMessage([("Event", "CoreShowChannel"), *values.items()])
                   for uid, values in channels.items()}
        for linkedid, channels in fields.items()}
    return held
