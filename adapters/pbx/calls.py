"""The call state machine: AMI events of every leg, correlated by Linkedid, become calls.

Pure logic, no I/O, no bus. :meth:`CallTracker.handle` takes one AMI event and
returns the canonical events it causes:

* ``pbx.call.ringing.v1`` when a new agent's phone starts ringing for a customer call
  (the payload lists every target so far: several for ring-all);
* ``pbx.call.answered.v1`` at the first ``DialEnd ANSWER`` between the customer's
  channel and the inside (fallbacks: ``AgentConnect``, then a ``BridgeEnter`` that
  puts a phone with the customer) - never at the customer's channel going Up for the
  IVR, a queue or voicemail;
* ``pbx.call.transferred.v1`` on ``BlindTransfer`` / ``AttendedTransfer``;
* ``pbx.call.ended.v1`` when the call's last channel hangs up.

Memory stays bounded: a call older than ``call_timeout`` is closed as ``failed`` with a
warning, and only the last ``remember_ended`` finished Linkedids are remembered (so a late
or repeated event never opens the same call twice).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence

from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.call_record import Call
from adapters.pbx.call_transfers import TransferEvents
from adapters.pbx.events import CALL_ANSWERED, CALL_ENDED, CALL_RINGING, PbxEvent
from adapters.pbx.held_channels import held_channels
from adapters.pbx.mapping import ChannelRules, caller_number, dialed_number, short_text
from adapters.pbx.snapshot import adopt_unknown_calls, reconcile_calls

__all__ = ["CallTracker"]

log = logging.getLogger(__name__)

Handler = Callable[[AmiMessage, int], None]


class CallTracker(TransferEvents):
    """Handlers are ``_on_<event name in lower case>``; events without one are ignored."""

    def __init__(self, rules: ChannelRules | None = None, *, call_timeout: float = 4 * 3600.0,
                 report_internal: bool = False, remember_ended: int = 10_000,
                 sweep_every: float = 60.0, region: str = "RU") -> None:
        """``region``: of national numbers, for the events' ``customer_e164``."""
        self.rules = rules or ChannelRules()
        self.region = region
        self.calls: dict[str, Call] = {}
        self._timeout_us = int(call_timeout * 1_000_000)
        self._report_internal = report_internal
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._remember_ended = remember_ended
        self._sweep_every_us = int(sweep_every * 1_000_000)
        self._last_sweep_us = 0
        self._out: list[PbxEvent] = []

    # -- public ------------------------------------------------------------------

    def handle(self, message: AmiMessage, at_us: int) -> list[PbxEvent]:
        self._out = []
        if at_us - self._last_sweep_us >= self._sweep_every_us:
            self._last_sweep_us = at_us
            self._sweep(at_us)
        handler: Handler | None = getattr(self, f"_on_{message.name.lower()}", None)
        if handler is not None:
            handler(message, at_us)
        return self._out

    def expire(self, now_us: int) -> list[PbxEvent]:
        """Close calls older than the timeout (a periodic sweep calls this)."""
        self._out = []
        self._sweep(now_us)
        return self._out

    def reconcile(self, channels: Sequence[AmiMessage], now_us: int,
                  as_of_us: int | None = None, held: Sequence[AmiMessage] = ()
                  ) -> list[PbxEvent]:
        """After a reconnect: align calls in flight with ``CoreShowChannels`` and the
        events ``held`` meanwhile (see :func:`adapters.pbx.snapshot.reconcile_calls`)."""
        self._out = []
        reconcile_calls(self, channels, now_us, as_of_us, held_channels(held))
        return self._out

    def adopt(self, channels: Sequence[AmiMessage] | None, now_us: int,
              held: Sequence[AmiMessage] = ()) -> list[PbxEvent]:
        """At the first login: the calls in ``CoreShowChannels`` and in the events
        ``held`` meanwhile not tracked yet (see
        :func:`adapters.pbx.snapshot.adopt_unknown_calls`)."""
        self._out = []
        adopt_unknown_calls(self, channels, now_us, held_channels(held))
        return self._out

    def is_ended(self, linkedid: str) -> bool:
        return linkedid in self._ended

    # -- helpers -----------------------------------------------------------------

    def _emit(self, type_: str, call: Call, at_us: int) -> None:
        if not (call.reported or self._report_internal):
            return
        self._out.append(PbxEvent(type_, call.linkedid, at_us, call.payload(type_, self.region)))

    def _call(self, message: AmiMessage, *keys: str) -> Call | None:
        for key in keys or ("Linkedid", "DestLinkedid"):
            linkedid = message.get(key)
            if linkedid and linkedid in self.calls:
                return self.calls[linkedid]
        return None

    def _announce_targets(self, call: Call, at_us: int) -> None:
        if call.reported and len(call.ring_targets) > call.announced_targets:
            call.announced_targets = len(call.ring_targets)
            self._emit(CALL_RINGING, call, at_us)

    def answer_missed(self, call: Call, at_us: int, extension: str | None) -> None:
        """An answer seen only in a snapshot after a reconnect: its time is approximate."""
        if call.answered_us is None:
            call.answer_approximate = True
            call.in_queue = False
        self._answer(call, at_us, extension)

    def _answer(self, call: Call, at_us: int, extension: str | None) -> None:
        if call.answered_us is None:
            call.answered_us = at_us
            call.answered_by = extension
            call.pending_dials.clear()
            self._emit(CALL_ANSWERED, call, at_us)
        elif call.answered_by is None and extension is not None:
            call.answered_by = extension

    def channel_gone(self, call: Call, uniqueid: str) -> None:
        call.channels.pop(uniqueid, None)
        call.gone.add(uniqueid)
        call.pending_dials.discard(uniqueid)
        for members in call.bridges.values():
            members.discard(uniqueid)

    def end(self, call: Call, at_us: int) -> None:
        call.ended_us = at_us
        self.calls.pop(call.linkedid, None)
        self._ended[call.linkedid] = None
        while len(self._ended) > self._remember_ended:
            self._ended.popitem(last=False)
        self._emit(CALL_ENDED, call, at_us)

    def _sweep(self, now_us: int) -> None:
        for call in [c for c in self.calls.values() if now_us - c.started_us > self._timeout_us]:
            log.warning("call %s still open after %.0f s: closed as failed", call.linkedid,
                        (now_us - call.started_us) / 1e6)
            call.timed_out = True
            self.end(call, now_us)

    # -- events --------------------------------------------------------------------

    def _on_newchannel(self, message: AmiMessage, at_us: int) -> None:
        uniqueid = message.get("Uniqueid")
        linkedid = message.get("Linkedid") or uniqueid
        if not uniqueid or not linkedid or linkedid in self._ended:
            return
        channel = message.get("Channel") or ""
        call = self.calls.get(linkedid)
        if call is None:
            if uniqueid != linkedid:  # a later leg of a call whose start we did not see
                log.debug("channel %s of unknown call %s ignored", uniqueid, linkedid)
                return
            call = Call(linkedid=linkedid, started_us=at_us)
            self.calls[linkedid] = call
            if self.rules.is_trunk(channel):
                call.direction = "inbound"
                call.customer = uniqueid
                call.caller_number = caller_number(message.get("CallerIDNum"))
                call.called_number = dialed_number(message.get("Exten"))
            else:
                call.origin_extension = self.rules.extension(channel)
                call.caller_number = call.origin_extension
        call.channels[uniqueid] = channel
        call.last_us = at_us

    def _on_dialbegin(self, message: AmiMessage, at_us: int) -> None:
        call = self._call(message)
        if call is None:
            return
        source, target = message.get("Uniqueid"), message.get("DestUniqueid")
        target_channel = message.get("DestChannel")
        call.add_ring_target(self.rules.extension(target_channel))
        if call.direction is None and self.rules.is_trunk(target_channel):
            call.direction = "outbound"
            call.customer = target
            dial_string = (message.get("DialString") or "").split("@", 1)[0]
            call.called_number = dialed_number(dial_string.rsplit("/", 1)[-1])
        if call.customer is not None and call.customer in (source, target):
            if call.first_ring_us is None:
                call.first_ring_us = at_us
            other = target if source == call.customer else source
            if other:
                call.pending_dials.add(other)
        call.last_us = at_us
        self._announce_targets(call, at_us)

    def _on_dialend(self, message: AmiMessage, at_us: int) -> None:
        call = self._call(message)
        if call is None or call.customer is None:
            return
        source, target = message.get("Uniqueid"), message.get("DestUniqueid")
        if call.customer not in (source, target):
            return
        other = target if source == call.customer else source
        call.pending_dials.discard(other or "")
        status = (message.get("DialStatus") or "").upper()
        if status == "ANSWER":
            extension = (self.rules.extension(message.get("DestChannel"))
                         if call.direction == "inbound" else call.origin_extension)
            self._answer(call, at_us, extension)
        else:
            call.statuses.add(status)
            if call.answered_us is None:
                call.last_unanswered_us = at_us
        call.last_us = at_us

    def _on_agentcalled(self, message: AmiMessage, at_us: int) -> None:
        call = self._call(message)
        if call is None:
            return
        call.queue = call.queue or short_text(message.get("Queue"))
        extension = (self.rules.extension(message.get("DestChannel"))
                     or self.rules.extension(message.get("Interface")))
        call.add_ring_target(extension)
        self._announce_targets(call, at_us)

    def _on_agentconnect(self, message: AmiMessage, at_us: int) -> None:
        call = self._call(message)
        if call is not None:
            extension = (self.rules.extension(message.get("DestChannel"))
                         or self.rules.extension(message.get("Interface")))
            self._answer(call, at_us, extension)

    def _on_bridgeenter(self, message: AmiMessage, at_us: int) -> None:
        call, bridge = self._call(message), message.get("BridgeUniqueid")
        uniqueid = message.get("Uniqueid")
        if call is None or not bridge or not uniqueid:
            return
        members = call.bridges.setdefault(bridge, set())
        members.add(uniqueid)
        if call.answered_us is None and call.customer in members:
            phones = [self.rules.extension(call.channels.get(u)) for u in members
                      if not (call.channels.get(u) or "").upper().startswith("LOCAL/")]
            agent = next((p for p in phones if p), None)
            if agent is not None:
                self._answer(call, at_us, agent if call.direction == "inbound"
                             else call.origin_extension)

    def _on_bridgeleave(self, message: AmiMessage, at_us: int) -> None:
        call, bridge = self._call(message), message.get("BridgeUniqueid")
        if call is not None and bridge in call.bridges:
            call.bridges[bridge].discard(message.get("Uniqueid") or "")
            if not call.bridges[bridge]:
                del call.bridges[bridge]

    def _on_queuecallerjoin(self, message: AmiMessage, at_us: int) -> None:
        call = self._call(message)
        if call is not None:
            call.queue = call.queue or short_text(message.get("Queue"))
            call.in_queue = True

    def _on_queuecallerleave(self, message: AmiMessage, at_us: int) -> None:
        call = self._call(message)
        if call is not None:
            call.in_queue = False

    def _on_queuecallerabandon(self, message: AmiMessage, at_us: int) -> None:
        call = self._call(message)
        if call is not None and call.answered_us is None:
            call.queue_abandoned = True

    def _caller_gives_up(self, call: Call) -> None:
        if call.answered_us is None and (call.pending_dials or call.in_queue):
            call.hung_up_while_waiting = True

    def _on_hanguprequest(self, message: AmiMessage, at_us: int) -> None:
        call = self._call(message)
        if call is not None and call.customer == message.get("Uniqueid"):
            call.caller_hung_up = call.answered_us is None
            self._caller_gives_up(call)

    def _on_hangup(self, message: AmiMessage, at_us: int) -> None:
        uniqueid = message.get("Uniqueid")
        call = self._call(message, "Linkedid")
        if call is None or not uniqueid:
            return
        if uniqueid == call.customer:
            self._caller_gives_up(call)
            cause = message.get("Cause") or ""
            call.hangup_cause = int(cause) if cause.isdigit() and int(cause) <= 127 else None
        self.channel_gone(call, uniqueid)
        call.last_us = at_us
        if not call.channels:
            self.end(call, at_us)

    def _on_varset(self, message: AmiMessage, at_us: int) -> None:
        if (message.get("Variable") or "").upper() != "DIALSTATUS":
            return
        call = self._call(message, "Linkedid")
        value = (message.get("Value") or "").upper()
        if call is not None and call.customer == message.get("Uniqueid") and value:
            call.statuses.add(value)
