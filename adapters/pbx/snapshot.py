"""Calls in flight aligned with a ``CoreShowChannels`` snapshot (after a reconnect).

A known call whose channels are all gone ended while the connection was down: it is
closed now. Channels that hung up meanwhile are dropped. Unknown calls in progress are
adopted with what a snapshot can tell (who the customer is, which phone is with them;
times approximate: a Linkedid begins with the epoch second of the call's first channel).
Calls both known and alive are kept as they are, so nothing is emitted twice, except one
thing: a known call still unanswered whose snapshot shows it answered (the customer's
channel bridged to a phone or to a queue's Local pair, or a channel it was dialling now
``Up``) is answered by that agent, at the reconnect time (approximate, logged as such).
Calls with events newer than ``as_of_us`` (when the snapshot was asked for) are left alone.

The events held while the snapshot was read complete it (:mod:`adapters.pbx.held_channels`):
an unknown call whose channels all hung up before the snapshot was taken is adopted from
its events, and an adopted call keeps the channels that hung up just before (the agent who
answered it), so that applying the held events afterwards ends it, once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.call_record import Call
from adapters.pbx.held_channels import HeldChannels
from adapters.pbx.mapping import ChannelRules, caller_number

if TYPE_CHECKING:
    from adapters.pbx.calls import CallTracker

__all__ = ["adopt_calls", "answered_in", "reconcile_calls", "uniqueid_us"]

UP = "6"
"""``ChannelState`` of an answered channel."""

log = logging.getLogger(__name__)


def reconcile_calls(tracker: CallTracker, channels: Sequence[AmiMessage], now_us: int,
                    as_of_us: int | None, held: HeldChannels | None = None) -> None:
    alive = _alive(channels)
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
        elif call.answered_us is None and call.customer in present:
            answered, agent = answered_in(call, present, tracker.rules)
            if answered:
                log.warning("call %s was answered by %s while the AMI connection was down; "
                            "answer time approximated by the reconnect", linkedid, agent)
                tracker.answer_missed(call, now_us, agent)
    _adopt_unknown(tracker, alive, now_us, held or HeldChannels())


def adopt_unknown_calls(tracker: CallTracker, channels: Sequence[AmiMessage] | None,
                        now_us: int, held: HeldChannels | None = None) -> None:
    """The calls in ``channels`` or ``held`` that ``tracker`` neither tracks nor has ended,
    taken in (the first login: calls already in progress when the adapter started).
    ``channels`` None (the PBX did not answer): the held events are all there is."""
    _adopt_unknown(tracker, _alive(channels or ()), now_us, held or HeldChannels())


def _alive(channels: Sequence[AmiMessage]) -> dict[str, dict[str, AmiMessage]]:
    alive: dict[str, dict[str, AmiMessage]] = {}
    for item in channels:
        linkedid, uniqueid = item.get("Linkedid"), item.get("Uniqueid")
        if linkedid and uniqueid:
            alive.setdefault(linkedid, {})[uniqueid] = item
    return alive


def _adopt_unknown(tracker: CallTracker, alive: Mapping[str, Mapping[str, AmiMessage]],
                   now_us: int, held: HeldChannels) -> None:
    found: dict[str, Mapping[str, AmiMessage]] = {}
    for linkedid, items in alive.items():  # with its channels that hung up just before
        if linkedid in held.started:
            continue  # the held events show it from its start: applying them builds it
        gone = {uid: item for uid, item in held.items.get(linkedid, {}).items()
                if uid in held.hung_up and uid not in items}
        found[linkedid] = {**gone, **items}
    ended_before = [lid for lid in held.items if lid not in alive and lid not in held.started]
    for linkedid in ended_before:  # or still up, when the snapshot went unanswered
        found[linkedid] = held.items[linkedid]
    for linkedid, items in found.items():
        if linkedid in tracker.calls or tracker.is_ended(linkedid):
            continue
        # seen first in a held event: the adoption is no later than that
        at_us = min(now_us, held.first_us.get(linkedid, now_us))
        [call] = adopt_calls({linkedid: items}, tracker.rules, at_us)
        log.info("call %s in progress adopted from %s", linkedid,
                 "the snapshot" if linkedid in alive else "its events")
        tracker.calls[linkedid] = call


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


def answered_in(call: Call, items: Mapping[str, AmiMessage], rules: ChannelRules
                ) -> tuple[bool, str | None]:
    """(answered?, by which extension) for a known call, from its channels in a snapshot.

    Evidence, best first: the customer's channel shares a bridge (``BridgeId``, or the
    older ``BridgedUniqueid``) with another channel of the call; else a channel the
    customer was dialling (inbound) is ``Up``, or the customer's own channel is (outbound:
    the trunk leg goes Up when the far end answers).
    """
    customer = call.customer
    if customer is None or customer not in items:
        return False, None
    partner = _bridged_with(customer, items)
    if partner is None and call.direction == "inbound":
        partner = next((uid for uid in sorted(call.pending_dials, key=_order)
                        if uid in items and _is_up(items[uid])), None)
    if partner is not None:
        if call.direction != "inbound":
            return True, call.origin_extension
        return True, (_agent_behind(partner, items, rules)
                      or _extension_number(items[customer].get("ConnectedLineNum"), rules))
    if call.direction == "outbound" and _is_up(items[customer]):
        return True, call.origin_extension
    return False, None


def _is_up(item: AmiMessage) -> bool:
    return (item.get("ChannelState") == UP
            or (item.get("ChannelStateDesc") or "").lower() == "up")


def _bridged_with(uniqueid: str, items: Mapping[str, AmiMessage]) -> str | None:
    """Another channel of the call in the same bridge as ``uniqueid``, phones first."""
    item = items[uniqueid]
    bridged = item.get("BridgedUniqueid") or item.get("BridgedUniqueID")
    if bridged and bridged in items and bridged != uniqueid:
        return bridged
    bridge = item.get("BridgeId")
    if not bridge:
        return None
    members = [uid for uid, other in items.items()
               if uid != uniqueid and other.get("BridgeId") == bridge]
    return min(members, key=lambda uid: (_is_local(items[uid].get("Channel")), _order(uid)),
               default=None)


def _agent_behind(uniqueid: str, items: Mapping[str, AmiMessage], rules: ChannelRules
                  ) -> str | None:
    """The extension of a phone channel; through a Local pair (``…;1`` bridged to the
    customer, ``…;2`` bridged to the phone), the phone's, else the one the name says."""
    channel = items[uniqueid].get("Channel") or ""
    if _is_local(channel) and channel[-2:] in (";1", ";2"):
        other_half = channel[:-1] + ("2" if channel.endswith("1") else "1")
        half = next((uid for uid, item in items.items()
                     if item.get("Channel") == other_half), None)
        phone = _bridged_with(half, items) if half is not None else None
        if phone is not None and not _is_local(items[phone].get("Channel")):
            found = rules.extension(items[phone].get("Channel"))
            if found is not None:
                return found
    return rules.extension(channel)


def _extension_number(value: str | None, rules: ChannelRules) -> str | None:
    return value if value and rules.is_extension_number(value) else None


def _is_local(channel: str | None) -> bool:
    return (channel or "").upper().startswith("LOCAL/")


def _order(uniqueid: str) -> tuple[int, int]:
    seconds, _, sequence = uniqueid.partition(".")
    return (int(seconds) if seconds.isdigit() else 0, int(sequence) if sequence.isdigit() else 0)
