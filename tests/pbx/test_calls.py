"""The call state machine on hand-written event sequences the recordings do not cover."""

from __future__ import annotations

import pytest

from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.events import CALL_ANSWERED, CALL_ENDED, CALL_RINGING, CALL_TRANSFERRED, PbxEvent
from adapters.pbx.mapping import ChannelRules, caller_number, iso, to_e164
from adapters.pbx.pipeline import Pipeline, Snapshot

T0 = 1_710_000_000


def ev(name: str, at: float, **headers: str) -> AmiMessage:
    stamp = f"{T0 + int(at)}.{round((at % 1) * 1e6):06d}"
    return AmiMessage([("Event", name), ("Timestamp", stamp), *headers.items()])


def chan(name: str, uid: str, linkedid: str, prefix: str = "", **extra: str) -> dict[str, str]:
    return {f"{prefix}Channel": name, f"{prefix}Uniqueid": uid, f"{prefix}Linkedid": linkedid,
            **{prefix + k: v for k, v in extra.items()}}


TRUNK = chan("PJSIP/trunk-00000001", "1.1", "1.1", CallerIDNum="+79123456789",
             Exten="73912001122")
PHONE = chan("PJSIP/2001-00000002", "1.2", "1.1", CallerIDNum="2001")


def inbound_answered_by_2001(pipeline: Pipeline) -> list[PbxEvent]:
    return pipeline.feed([
        ev("Newchannel", 0, **TRUNK),
        ev("Newchannel", 1, **PHONE),
        ev("DialBegin", 1, **TRUNK, **{"Dest" + k: v for k, v in PHONE.items()}),
        ev("DialEnd", 5, **TRUNK, **{"Dest" + k: v for k, v in PHONE.items()},
           DialStatus="ANSWER"),
    ])


def types(events: list[PbxEvent]) -> list[str]:
    return [e.type for e in events]


def test_attended_transfer_names_the_target_and_keeps_the_first_answerer() -> None:
    pipeline = Pipeline()
    inbound_answered_by_2001(pipeline)
    consult = chan("PJSIP/2001-00000003", "1.3", "1.3", CallerIDNum="2001")
    target = chan("PJSIP/2005-00000004", "1.4", "1.3", CallerIDNum="2005")
    internal = pipeline.feed([
        ev("Newchannel", 20, **consult), ev("Newchannel", 20, **target),
        ev("DialBegin", 20, **consult, **{"Dest" + k: v for k, v in target.items()}),
        ev("DialEnd", 23, **consult, **{"Dest" + k: v for k, v in target.items()},
           DialStatus="ANSWER"),
    ])
    assert internal == []  # a call between two extensions is not reported
    [transferred] = pipeline.feed([ev(
        "AttendedTransfer", 30, Result="Success",
        OrigTransfererChannel="PJSIP/2001-00000002", OrigTransfererLinkedid="1.1",
        SecondTransfererChannel="PJSIP/2001-00000003", SecondTransfererLinkedid="1.3",
        SecondTransfererConnectedLineNum="2005", TransfereeChannel="PJSIP/trunk-00000001",
        TransfereeLinkedid="1.1", TransferTargetChannel="PJSIP/2005-00000004",
        TransferTargetLinkedid="1.3")])
    assert transferred.type == CALL_TRANSFERRED
    assert transferred.payload["transferred_to"] == "2005"
    assert transferred.payload["transfer_kind"] == "attended"
    assert transferred.payload["transferred_at"] == iso((T0 + 30) * 1_000_000)
    ended = pipeline.feed([
        ev("Hangup", 30, **PHONE, Cause="16"), ev("Hangup", 30, **consult, Cause="16"),
        ev("Hangup", 90, **TRUNK, Cause="16"), ev("Hangup", 90, **target, Cause="16")])
    [call] = [e.payload for e in ended if e.type == CALL_ENDED]
    assert call["answered_by_extension"] == "2001"
    assert call["transferred_to"] == "2005"
    assert (call["talk_seconds"], call["disposition"]) == (85, "answered")


@pytest.mark.parametrize(("status", "disposition"), [
    ("CHANUNAVAIL", "failed"), ("CONGESTION", "failed"), ("BUSY", "busy"),
    ("NOANSWER", "missed"),
])
def test_dial_status_decides_an_unanswered_call(status: str, disposition: str) -> None:
    pipeline = Pipeline()
    events = pipeline.feed([
        ev("Newchannel", 0, **TRUNK), ev("Newchannel", 1, **PHONE),
        ev("DialBegin", 1, **TRUNK, **{"Dest" + k: v for k, v in PHONE.items()}),
        ev("DialEnd", 3, **TRUNK, **{"Dest" + k: v for k, v in PHONE.items()},
           DialStatus=status),
        ev("Hangup", 3, **PHONE, Cause="16"),
        ev("Hangup", 10, **TRUNK, Cause="21"),
    ])
    [call] = [e.payload for e in events if e.type == CALL_ENDED]
    assert call["disposition"] == disposition
    assert (call["ring_seconds"], call["talk_seconds"], call["hangup_cause"]) == (2, 0, 21)


def test_caller_hanging_up_in_the_ivr_before_any_ring_is_abandoned() -> None:
    pipeline = Pipeline()
    events = pipeline.feed([
        ev("Newchannel", 0, **TRUNK), ev("Newstate", 1, **TRUNK, ChannelStateDesc="Up"),
        ev("HangupRequest", 9, **TRUNK), ev("Hangup", 9, **TRUNK, Cause="16")])
    [call] = [e.payload for e in events]
    assert (call["disposition"], call["ring_seconds"], call["answered_at"]) == (
        "abandoned", 0, None)


def test_the_pbx_answering_for_the_ivr_is_not_an_answer() -> None:
    pipeline = Pipeline()
    events = pipeline.feed([
        ev("Newchannel", 0, **TRUNK), ev("Newstate", 0.5, **TRUNK, ChannelStateDesc="Up"),
        ev("Hangup", 30, **TRUNK, Cause="16")])
    assert CALL_ANSWERED not in types(events)
    assert events[-1].payload["disposition"] == "missed"


def test_answer_falls_back_to_agent_connect_then_bridge() -> None:
    queue = Pipeline()
    queue.feed([ev("Newchannel", 0, **TRUNK),
                ev("QueueCallerJoin", 1, **TRUNK, Queue="support")])
    [answered] = queue.feed([ev("AgentConnect", 4, **TRUNK, DestChannel="Local/2002@q-1;1",
                                Interface="Local/2002@from-queue/n")])
    assert answered.payload["answered_by_extension"] == "2002"

    bridged = Pipeline()
    bridged.feed([ev("Newchannel", 0, **TRUNK), ev("Newchannel", 1, **PHONE)])
    bridge = {"BridgeUniqueid": "b-1"}
    assert bridged.feed([ev("BridgeEnter", 6, **TRUNK, **bridge)]) == []
    [answered] = bridged.feed([ev("BridgeEnter", 6, **PHONE, **bridge)])
    assert (answered.type, answered.payload["answered_by_extension"]) == (CALL_ANSWERED, "2001")


def test_ring_all_announces_each_new_target_once() -> None:
    pipeline = Pipeline()
    pipeline.feed([ev("Newchannel", 0, **TRUNK)])
    out: list[PbxEvent] = []
    for n, ext in enumerate(["2001", "2002", "2001", "2003"]):
        local = chan(f"Local/{ext}@from-queue-0000000{n};1", f"1.{10 + n}", "1.1")
        out += pipeline.feed([ev("AgentCalled", 1, **TRUNK,
                                 **{"Dest" + k: v for k, v in local.items()}, Queue="support")])
    assert types(out) == [CALL_RINGING] * 3
    assert out[-1].payload["ring_targets"] == ["2001", "2002", "2003"]
    assert out[-1].payload["queue"] == "support"


def test_internal_calls_are_reported_only_when_asked() -> None:
    a = chan("PJSIP/2001-00000001", "2.1", "2.1", CallerIDNum="2001")
    b = chan("PJSIP/2002-00000002", "2.2", "2.1", CallerIDNum="2002")
    flow = [ev("Newchannel", 0, **a), ev("Newchannel", 0, **b),
            ev("DialBegin", 0, **a, **{"Dest" + k: v for k, v in b.items()}),
            ev("Hangup", 5, **b, Cause="16"), ev("Hangup", 5, **a, Cause="16")]
    assert Pipeline().feed(flow) == []
    reported = Pipeline(report_internal=True).feed(flow)
    assert reported[-1].payload["direction"] == "internal"


def test_events_of_an_ended_call_do_not_open_it_again() -> None:
    pipeline = Pipeline()
    inbound_answered_by_2001(pipeline)
    pipeline.feed([ev("Hangup", 9, **PHONE, Cause="16"), ev("Hangup", 9, **TRUNK, Cause="16")])
    again = pipeline.feed([ev("Newchannel", 9.5, **TRUNK),
                           ev("Hangup", 10, **TRUNK, Cause="16")])
    assert again == []
    assert pipeline.calls.calls == {}


def test_reconcile_keeps_live_calls_closes_vanished_ones_and_adopts_unknown_ones() -> None:
    pipeline = Pipeline()
    inbound_answered_by_2001(pipeline)
    other = chan("PJSIP/trunk-00000009", "1.9", "1.9", CallerIDNum="89123456789")
    pipeline.feed([ev("Newchannel", 6, **other)])
    now = (T0 + 60) * 1_000_000
    snapshot = Snapshot(channels=[
        AmiMessage([("Event", "CoreShowChannel"), *TRUNK.items(), ("BridgeId", "b-1")]),
        AmiMessage([("Event", "CoreShowChannel"), *PHONE.items(), ("BridgeId", "b-1")]),
        AmiMessage([("Event", "CoreShowChannel"), ("Channel", "PJSIP/trunk-0000000a"),
                    ("Uniqueid", "1710000030.20"), ("Linkedid", "1710000030.20"),
                    ("CallerIDNum", "anonymous"), ("BridgeId", "b-2")]),
        AmiMessage([("Event", "CoreShowChannel"), ("Channel", "PJSIP/2007-0000000b"),
                    ("Uniqueid", "1710000031.21"), ("Linkedid", "1710000030.20"),
                    ("BridgeId", "b-2")]),
    ], as_of_us=(T0 + 6) * 1_000_000)
    [vanished] = pipeline.reconcile(snapshot, now)
    assert (vanished.type, vanished.key) == (CALL_ENDED, "1.9")
    assert vanished.payload["ended_at"] == iso(now)
    assert set(pipeline.calls.calls) == {"1.1", "1710000030.20"}
    adopted = pipeline.calls.calls["1710000030.20"]
    assert adopted.direction == "inbound" and adopted.caller_number is None
    assert adopted.answered_by == "2007"
    assert pipeline.reconcile(snapshot, now) == []  # a second snapshot changes nothing


def test_originate_failure_makes_an_outbound_attempt_failed() -> None:
    agent = chan("PJSIP/2003-00000001", "3.1", "3.1", CallerIDNum="89123456789")
    trunk = chan("PJSIP/trunk-00000002", "3.2", "3.1")
    pipeline = Pipeline()
    events = pipeline.feed([
        ev("Newchannel", 0, **agent),
        ev("DialBegin", 3, **agent, **{"Dest" + k: v for k, v in trunk.items()},
           DialString="89123456789@trunk"),
        ev("OriginateResponse", 3, Response="Failure", Uniqueid="3.1"),
        ev("Hangup", 4, **agent, Cause="34")])
    [call] = [e.payload for e in events if e.type == CALL_ENDED]
    assert (call["direction"], call["called_number"], call["disposition"]) == (
        "outbound", "89123456789", "failed")


@pytest.mark.parametrize(("raw", "e164"), [
    ("+79123456789", "+79123456789"), ("89123456789", "+79123456789"),
    ("4952345678", "+74952345678"), ("83912345678", "+73912345678"),
    ("2003", None), ("<unknown>", None), ("Anonymous", None), ("", None), (None, None),
])
def test_numbers_normalise_to_e164_with_russia_as_default_region(
    raw: str | None, e164: str | None,
) -> None:
    assert to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["<unknown>", "", "anonymous", "UNKNOWN", "Unavailable",
                                 "restricted", "Private", None, "sip:evil"])
def test_withheld_or_garbled_caller_ids_become_null(raw: str | None) -> None:
    assert caller_number(raw) is None


@pytest.mark.parametrize(("channel", "extension", "trunk"), [
    ("PJSIP/2001-0000001b", "2001", False), ("PJSIP/trunk-0000001a", None, True),
    ("Local/2001@from-queue-00000003;1", "2001", False), ("Local/2001@from-queue/n", "2001", False),
    ("PJSIP/2001", "2001", False), ("SIP/101-000000aa", "101", False),
    ("DAHDI/i1/89123456789-1", None, True), ("Custom:DND2003", None, False),
    ("Queue:support_avail", None, False), (None, None, False),
])
def test_channel_names(channel: str | None, extension: str | None, trunk: bool) -> None:
    rules = ChannelRules()
    assert rules.extension(channel) == extension
    assert rules.is_trunk(channel) is trunk
