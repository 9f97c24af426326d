"""Calls in flight aligned with a ``CoreShowChannels`` snapshot (after a reconnect).

A known call whose channels are all gone ended while the connection was down: it is
closed now. Channels that hung up meanwhile are dropped. Unknown calls in progress are
adopted with what a snapshot can tell (who the customer is, which phone is with them;
times approximate: a Linkedid begins with the epoch second of the call's first channel).
Calls both known and alive are kept as they are, so nothing is emitted twice; calls with
events newer than ``as_of_us`` (when the snapshot was asked for) are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.call_record import Call
from adapters.pbx.mapping import ChannelRules, caller_number

if TYPE_CHECKING:
    from adapters.pbx.calls import CallTracker

__all__ = ["adopt_calls", "reconcile_calls", "uniqueid_us"]

log = logging.getLogger(__name__)


def reconcile_calls(tracker: CallTracker, channels: Sequence[AmiMessage], now_us: int,
                    as_of_us: int | None) -> None:
    alive: dict[str, dict[str, AmiMessage]] = {}
    for item in channels:
        linkedid, uniqueid = item.get("Linkedid"), item.get("Uniqueid")
        if linkedid and uniqueid:
            alive.setdefault(linkedid, {})[uniqueid] = item
    for linkedid, call in list(tracker.calls.items()):
        if as_of_us is not None and call.last_us > as_of_us:
            continue
        present = alive.get(linkedid, {})
        for uniqueid in set(call.channels) - set(present):
            tracker.channel_gone(call, uniqueid)
        for uniqueid, item in present.items():
            if uniqueid not in call.gone:
                call.channels.setdefault(uniqueid, item.get("Channel") or "")
        if not call.channels:
            log.warning("call %s ended while the AMI connection was down; closed at reconnect",
                        linkedid)
            tracker.end(call, now_us)
    unknown = {lid: items for lid, items in alive.items()
               if lid not in tracker.calls and not tracker.is_ended(lid)}
    for call in adopt_calls(unknown, tracker.rules, now_us):
        log.info("call %s in progress adopted after reconnect", call.linkedid)
        tracker.calls[call.linkedid] = call


def uniqueid_us(uniqueid: str) -> int | None:
    """``1710224107.1837`` -> 1710224107000000: a Uniqueid begins with its creation second."""
    seconds = uniqueid.partition(".")[0]
    return int(seconds) * 1_000_000 if seconds.isdigit() else None


def adopt_calls(unknown: Mapping[str, Mapping[str, AmiMessage]], rules: ChannelRules,
                now_us: int) -> list[Call]:
    calls = []
    for linkedid, items in unknown.items():
        first = items.get(linkedid) or items[min(items, key=_order)]
        call = Call(linkedid=linkedid, started_us=uniqueid_us(linkedid) or now_us,
                    last_us=now_us)
        call.channels = {uid: item.get("Channel") or "" for uid, item in items.items()}
        first_channel = first.get("Channel")
        if rules.is_trunk(first_channel):
            call.direction = "inbound"
            call.customer = first.get("Uniqueid")
            call.caller_number = caller_number(first.get("CallerIDNum"))
        else:
            call.origin_extension = rules.extension(first_channel)
            call.caller_number = call.origin_extension
            trunk = next((uid for uid, item in items.items()
                          if rules.is_trunk(item.get("Channel"))), None)
            if trunk is not None and call.origin_extension is not None:
                call.direction, call.customer = "outbound", trunk
        _answered_if_bridged(call, items, rules, now_us)
        calls.append(call)
    return calls


def _answered_if_bridged(call: Call, items: Mapping[str, AmiMessage], rules: ChannelRules,
                         now_us: int) -> None:
    if call.customer is None or call.customer not in items:
        return
    bridge = items[call.customer].get("BridgeId")
    if not bridge:
        return
    for uid, item in items.items():
        extension = rules.extension(item.get("Channel"))
        if uid != call.customer and item.get("BridgeId") == bridge and extension:
            call.answered_us = now_us
            call.answered_by = extension if call.direction == "inbound" else call.origin_extension
            call.first_ring_us = now_us
            call.bridges[bridge] = {call.customer, uid}
            return


def _order(uniqueid: str) -> tuple[int, int]:
    seconds, _, sequence = uniqueid.partition(".")
    return (int(seconds) if seconds.isdigit() else 0, int(sequence) if sequence.isdigit() else 0)
