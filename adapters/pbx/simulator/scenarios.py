"""The calls the simulator plays, modelled on the recorded transcripts in
``../shared/fixtures/ami``: queue ring-all answered, direct answered, missed (no answer,
then voicemail), abandoned in the queue, busy, blind transfer and click-to-call.

Each scenario writes a :class:`~adapters.pbx.simulator.channels.CallScript` and returns
the :class:`GeneratedCall` it stands for: the simulator's ground truth.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from adapters.pbx.simulator.channels import CallScript, Channel

__all__ = ["SCENARIOS", "GeneratedCall", "Plan", "click_to_call"]


@dataclass(frozen=True, slots=True)
class Plan:
    """What a generated inbound call is about."""

    caller: str
    did: str
    agents: tuple[str, ...]
    """Agents free to ring, in the order a ring-all queue rings them."""
    queue: str
    rng: random.Random


@dataclass(frozen=True, slots=True)
class GeneratedCall:
    linkedid: str
    scenario: str
    direction: str
    caller_number: str | None
    disposition: str
    answered_by: str | None
    transferred_to: str | None = None


Leg = tuple[Channel, Channel, Channel]
"""A queue member rung through a Local pair: (Local;1, Local;2, the phone)."""


def _trunk(script: CallScript, plan: Plan) -> Channel:
    trunk = script.channel(script.ids.pjsip("trunk"), plan.caller, context="from-trunk",
                           exten=plan.did)
    script.device("PJSIP/trunk", "INUSE")
    script.state(trunk, 4)
    script.dialplan(trunk, "Set", f"__FROM_DID={plan.did}")
    script.varset(trunk, "__FROM_DID", plan.did)
    return trunk


def _ring_phone(script: CallScript, source: Channel, extension: str, dial_string: str
                ) -> Channel:
    phone = script.channel(script.ids.pjsip(extension), extension, linked=source)
    phone.connected_num = source.caller_num
    script.dial_begin(source, phone, dial_string)
    script.state(phone, 5)
    script.device(f"PJSIP/{extension}", "RINGING")
    return phone


def _direct(script: CallScript, plan: Plan) -> tuple[Channel, Channel]:
    trunk = _trunk(script, plan)
    agent = plan.agents[0]
    trunk.context, trunk.exten = "from-did-direct", agent
    script.dialplan(trunk, "Dial", f"PJSIP/{agent},30,tT")
    return trunk, _ring_phone(script, trunk, agent, agent)


def _answer_direct(script: CallScript, trunk: Channel, phone: Channel) -> str:
    script.state(phone, 6)
    script.device(phone.device, "INUSE")
    script.dial_end(trunk, phone, "ANSWER")
    script.state(trunk, 6)
    trunk.connected_num = phone.caller_num
    return script.bridge(phone, trunk)


def _hang_up_both(script: CallScript, bridge: str, first: Channel, second: Channel) -> None:
    script.emit("HangupRequest", first.fields())
    script.leave(bridge, first, 1)
    script.hangup(first, 16)
    script.leave(bridge, second, 0)
    script.hangup(second, 16)
    for channel in (first, second):
        if channel.device != "PJSIP/trunk":
            script.device(channel.device, "NOT_INUSE")
    script.device("PJSIP/trunk", "NOT_INUSE")


def direct_answered(script: CallScript, plan: Plan) -> GeneratedCall:
    trunk, phone = _direct(script, plan)
    script.wait(plan.rng.uniform(3, 12))
    bridge = _answer_direct(script, trunk, phone)
    script.wait(plan.rng.uniform(20, 180))
    first, second = (phone, trunk) if plan.rng.random() < 0.5 else (trunk, phone)
    _hang_up_both(script, bridge, first, second)
    return GeneratedCall(trunk.linkedid, "direct_answered", "inbound", plan.caller,
                         "answered", plan.agents[0])


def missed(script: CallScript, plan: Plan) -> GeneratedCall:
    trunk, phone = _direct(script, plan)
    script.wait(30)
    script.dial_end(trunk, phone, "NOANSWER")
    script.hangup(phone, 16)
    script.device(phone.device, "NOT_INUSE")
    script.varset(trunk, "DIALSTATUS", "NOANSWER")
    script.dialplan(trunk, "VoiceMail", f"{plan.agents[0]}@default,u")
    script.state(trunk, 6)  # the PBX answers for voicemail: not an answer
    script.wait(plan.rng.uniform(5, 25))
    script.hangup(trunk, 16, request=True)
    script.device("PJSIP/trunk", "NOT_INUSE")
    return GeneratedCall(trunk.linkedid, "missed", "inbound", plan.caller, "missed", None)


def busy(script: CallScript, plan: Plan) -> GeneratedCall:
    trunk, phone = _direct(script, plan)
    script.wait(0.3)
    script.dial_end(trunk, phone, "BUSY")
    script.hangup(phone, 17)
    script.device(phone.device, "NOT_INUSE")
    script.varset(trunk, "DIALSTATUS", "BUSY")
    script.dialplan(trunk, "Busy", "20")
    script.wait(3.2)
    script.hangup(trunk, 17, request=True)
    script.device("PJSIP/trunk", "NOT_INUSE")
    return GeneratedCall(trunk.linkedid, "busy", "inbound", plan.caller, "busy", None)


def blind_transfer(script: CallScript, plan: Plan) -> GeneratedCall:
    trunk, phone = _direct(script, plan)
    target = plan.agents[1]
    script.wait(plan.rng.uniform(3, 8))
    bridge = _answer_direct(script, trunk, phone)
    script.wait(plan.rng.uniform(15, 60))
    script.emit("BlindTransfer", [("Result", "Success")], phone.fields("Transferer"),
                trunk.fields("Transferee"), script.bridge_fields(bridge, 2),
                [("IsExternal", "Yes"), ("Context", "from-internal"), ("Extension", target)])
    script.emit("HangupRequest", phone.fields())
    script.leave(bridge, phone, 1)
    script.hangup(phone, 16)
    script.device(phone.device, "NOT_INUSE")
    trunk.exten = target
    script.dialplan(trunk, "Dial", f"PJSIP/{target},30,tT")
    second = _ring_phone(script, trunk, target, target)
    script.wait(plan.rng.uniform(2, 8))
    script.leave(bridge, trunk, 0)
    new_bridge = _answer_direct(script, trunk, second)
    script.wait(plan.rng.uniform(20, 120))
    _hang_up_both(script, new_bridge, trunk, second)
    return GeneratedCall(trunk.linkedid, "blind_transfer", "inbound", plan.caller,
                         "answered", plan.agents[0], target)


def _queue(script: CallScript, plan: Plan) -> tuple[Channel, list[Leg]]:
    """Trunk into the queue, every member rung through a Local pair (ring-all)."""
    trunk = _trunk(script, plan)
    trunk.context, trunk.exten = "ext-queues", "600"
    script.dialplan(trunk, "Answer", "")
    script.state(trunk, 6)
    script.dialplan(trunk, "Queue", f"{plan.queue},tr,,,300")
    script.emit("QueueCallerJoin", trunk.fields(), [("Queue", plan.queue), ("Position", "1"),
                                                     ("Count", "1")])
    script.emit("MusicOnHoldStart", trunk.fields(), [("Class", "default")])
    legs: list[Leg] = []
    for agent in plan.agents[:3]:
        name1, name2 = script.ids.local_pair(agent)
        local1 = script.channel(name1, "<unknown>", linked=trunk, context="from-queue",
                                exten=agent)
        local2 = script.channel(name2, plan.caller, linked=trunk, context="from-queue",
                                exten=agent, state=4)
        interface = f"Local/{agent}@from-queue/n"
        script.emit("AgentCalled", trunk.fields(), local1.fields("Dest"), [
            ("Queue", plan.queue), ("Interface", interface), ("MemberName", agent)])
        script.dial_begin(trunk, local1, interface)
        phone = _ring_phone(script, local2, agent, agent)
        script.state(local1, 5)
        legs.append((local1, local2, phone))
    return trunk, legs


def _cancel(script: CallScript, trunk: Channel, leg: Leg, cause: int) -> None:
    local1, local2, phone = leg
    script.dial_end(trunk, local1, "CANCEL")
    script.hangup(local1, cause)
    script.dial_end(local2, phone, "CANCEL")
    script.hangup(phone, cause)
    script.hangup(local2, cause)
    script.device(phone.device, "NOT_INUSE")


def queue_answered(script: CallScript, plan: Plan) -> GeneratedCall:
    trunk, legs = _queue(script, plan)
    script.wait(plan.rng.uniform(3, 15))
    winner = plan.rng.randrange(len(legs))
    local1, local2, phone = legs[winner]
    script.state(phone, 6)
    script.device(phone.device, "INUSE")
    script.dial_end(local2, phone, "ANSWER")
    script.state(local2, 6)
    script.state(local1, 6)
    inner = script.bridge(local2, phone)
    script.dial_end(trunk, local1, "ANSWER")
    for n, leg in enumerate(legs):
        if n != winner:
            _cancel(script, trunk, leg, 26)
    script.emit("MusicOnHoldStop", trunk.fields())
    script.emit("QueueCallerLeave", trunk.fields(), [("Queue", plan.queue), ("Count", "0"),
                                                      ("Position", "1")])
    script.emit("AgentConnect", trunk.fields(), local1.fields("Dest"), [
        ("Queue", plan.queue), ("Interface", f"Local/{phone.caller_num}@from-queue/n")])
    outer = script.bridge(trunk, local1)
    script.wait(plan.rng.uniform(20, 240))
    script.emit("HangupRequest", trunk.fields())
    script.emit("AgentComplete", trunk.fields(), [
        ("Queue", plan.queue), ("Interface", f"Local/{phone.caller_num}@from-queue/n"),
        ("Reason", "caller")])
    script.leave(outer, trunk, 1)
    script.hangup(trunk, 16)
    script.device("PJSIP/trunk", "NOT_INUSE")
    script.leave(outer, local1, 0)
    script.hangup(local1, 16)
    script.leave(inner, local2, 1)
    script.hangup(local2, 16)
    script.leave(inner, phone, 0)
    script.hangup(phone, 16)
    script.device(phone.device, "NOT_INUSE")
    return GeneratedCall(trunk.linkedid, "queue_answered", "inbound", plan.caller,
                         "answered", phone.caller_num)


def abandoned_in_queue(script: CallScript, plan: Plan) -> GeneratedCall:
    trunk, legs = _queue(script, plan)
    script.wait(plan.rng.uniform(5, 40))
    script.emit("HangupRequest", trunk.fields())
    for leg in legs:
        _cancel(script, trunk, leg, 16)
    script.emit("QueueCallerAbandon", trunk.fields(), [("Queue", plan.queue),
                                                        ("Position", "1")])
    script.emit("QueueCallerLeave", trunk.fields(), [("Queue", plan.queue), ("Count", "0")])
    script.emit("MusicOnHoldStop", trunk.fields())
    script.hangup(trunk, 16)
    script.device("PJSIP/trunk", "NOT_INUSE")
    return GeneratedCall(trunk.linkedid, "abandoned_in_queue", "inbound", plan.caller,
                         "abandoned", None)


def click_to_call(script: CallScript, agent: str, number: str, did: str, action_id: str,
                  talk: float) -> GeneratedCall:
    """``Originate``: the agent's phone rings first, then the customer is dialled."""
    phone = script.channel(script.ids.pjsip(agent), number, caller_name="Click-to-Call",
                           exten=number)
    script.dial_begin(None, phone, agent)
    script.state(phone, 5)
    script.device(f"PJSIP/{agent}", "RINGING")
    script.wait(3)
    script.state(phone, 6)
    script.dial_end(None, phone, "ANSWER")
    script.device(f"PJSIP/{agent}", "INUSE")
    script.emit("OriginateResponse", [
        ("ActionID", action_id), ("Response", "Success"), ("Channel", phone.name),
        ("Context", phone.context), ("Exten", number), ("Application", ""), ("Data", ""),
        ("Reason", "4"), ("Uniqueid", phone.uniqueid), ("CallerIDNum", number),
        ("CallerIDName", "Click-to-Call")])
    script.dialplan(phone, "Dial", f"PJSIP/{number}@trunk,60")
    trunk = script.channel(script.ids.pjsip("trunk"), did, linked=phone, context="from-trunk")
    script.device("PJSIP/trunk", "INUSE")
    script.dial_begin(phone, trunk, f"{number}@trunk")
    script.state(trunk, 5)
    script.wait(4)
    script.state(trunk, 6)
    script.dial_end(phone, trunk, "ANSWER")
    bridge = script.bridge(trunk, phone)
    script.wait(talk)
    _hang_up_both(script, bridge, trunk, phone)
    return GeneratedCall(phone.linkedid, "click_to_call", "outbound", agent, "answered", agent)


Scenario = Callable[[CallScript, Plan], GeneratedCall]
SCENARIOS: dict[str, tuple[Scenario, float]] = {
    # name: (script, weight in the generated mix)
    "queue_answered": (queue_answered, 0.35),
    "direct_answered": (direct_answered, 0.2),
    "missed": (missed, 0.12),
    "abandoned_in_queue": (abandoned_in_queue, 0.13),
    "busy": (busy, 0.1),
    "blind_transfer": (blind_transfer, 0.1),
}
