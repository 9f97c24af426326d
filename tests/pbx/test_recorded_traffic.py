"""Proof on recorded traffic: every AMI transcript, served over TCP, gives the expected calls.

A loopback server sends each transcript byte for byte after the client's Login; the real
AMI client and the adapter publish onto a real bus (every transport), and a subscriber's
catch is compared with ``*.expected.json``. ``replay()`` must tell the same story.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.ami.protocol import AmiParser
from adapters.pbx.events import AGENT_PRESENCE, CALL_ENDED
from adapters.pbx.replay import replay
from tests.conftest import BusFactory, eventually
from tests.pbx.ami_server import FakeAmi, Session, split_transcript
from tests.pbx.conftest import (
    Collector,
    ami_settings,
    as_events,
    as_in_fixture,
    calls_of,
    expected,
    presence_of,
    scenarios,
    transcript,
)

CUSTOMER_E164 = {
    "1710224107.1837": "+79123456789",  # inbound_queue_answered: +79123456789 as sent
    "1710226961.2210": "+74952345678",  # inbound_direct_answered: 10 digits 4952345678
    "1710233043.2931": "+79123456789",  # inbound_no_answer: 89123456789
    "1710235872.3377": "+79834567890",  # inbound_abandoned_in_queue
    "1710237955.3802": "+73912345678",  # inbound_busy: 83912345678, a landline
    "1710242430.4120": "+79123456789",  # outbound_click_to_call: the dialled 89123456789
    "1710247696.4577": "+79231112233",  # blind_transfer
    "1710252189.5011": None,  # unknown_caller_id: <unknown>
    "1710252250.5013": None,  # unknown_caller_id: anonymous
    "1710256200.5530": "+79501234567",  # two_concurrent_calls: 89501234567
    "1710256204.5532": "+79135556677",  # two_concurrent_calls
}
"""The customer's number in E.164 of every fixture call, written out by hand."""


def _canonical(events: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(e, sort_keys=True, ensure_ascii=False) for e in events)


def _customer_e164_of_every_event(events: list[dict[str, Any]]) -> dict[str, set[str | None]]:
    found: dict[str, set[str | None]] = {}
    for event in events:
        if event["type"] != AGENT_PRESENCE:
            found.setdefault(event["payload"]["linkedid"], set()).add(
                event["payload"]["customer_e164"])
    return found


@pytest.mark.parametrize("scenario", scenarios())
def test_replay_gives_the_expected_calls_and_presence(scenario: str) -> None:
    events = replay(transcript(scenario))
    want = expected(scenario)
    assert as_in_fixture(calls_of(events), want["calls"]) == want["calls"]
    assert presence_of(events) == want["presence"]


@pytest.mark.parametrize("scenario", scenarios())
def test_every_call_event_carries_the_customer_number_in_e164(scenario: str) -> None:
    events = replay(transcript(scenario))
    calls = {call["linkedid"] for call in expected(scenario)["calls"]}
    assert _customer_e164_of_every_event(events) == {
        linkedid: {CUSTOMER_E164[linkedid]} for linkedid in calls}
    for call in calls_of(events):  # as sent: the fixtures' numbers stay unnormalised
        assert call.keys() - set(expected(scenario)["calls"][0]) == {"customer_e164"}


def test_the_customer_number_region_is_the_setting() -> None:
    [call] = calls_of(replay(transcript("inbound_direct_answered"), region="DE"))
    assert call["caller_number"] == "4952345678"
    assert call["customer_e164"] == "+494952345678"  # a national number of Germany now


@pytest.mark.parametrize("scenario", scenarios())
def test_parser_sees_the_stream_the_fixture_describes(scenario: str) -> None:
    parser = AmiParser()
    messages = parser.feed(transcript(scenario).read_bytes()) + parser.flush()
    stream = expected(scenario)["stream"]
    assert parser.banner == expected(scenario)["pbx"]["ami_banner"]
    assert parser.stats.events == stream["events"]
    assert parser.stats.responses == stream["responses"]
    anomalies = {a["kind"]: a["count"] for a in stream["anomalies"]}
    assert parser.stats.lines_without_separator == anomalies.get("line_without_separator", 0)
    assert parser.stats.bad_blocks == 0
    assert messages[0].kind == "response" and messages[0].action_id == "login-1"


@pytest.mark.parametrize("scenario", scenarios())
async def test_recorded_scenario_served_over_tcp_is_published_as_expected(
    scenario: str, make_bus: BusFactory, collector: Collector,
) -> None:
    path = transcript(scenario)
    banner, rest = split_transcript(path.read_bytes())
    replayed = replay(path)
    router, seen = collector
    bus = await make_bus(router)
    async with FakeAmi([Session(after_login=rest)], banner=banner) as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.start()
        try:
            await eventually(lambda: len(seen) >= len(replayed), timeout=20)
        finally:
            await adapter.stop()
        [(_, login)] = pbx.actions_named("Login")
    assert login.action_id == "login-1"
    assert login.get("Username") == "esb" and login.get("Secret") == "secret"

    published = as_events(seen)
    want = expected(scenario)
    assert as_in_fixture(calls_of(published), want["calls"]) == want["calls"]
    assert _customer_e164_of_every_event(published) == {
        call["linkedid"]: {CUSTOMER_E164[call["linkedid"]]} for call in want["calls"]}
    assert presence_of(published) == want["presence"]
    # the TCP run and replay() tell exactly the same story
    assert _canonical(published) == _canonical(replayed)
    for envelope in seen:  # the PBX's own time, and keys that keep a call's events in order
        assert envelope.source == "pbx"
        occurred = envelope.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if envelope.type == AGENT_PRESENCE:
            assert (envelope.key, occurred) == (envelope.payload["extension"],
                                                envelope.payload["at"])
        else:
            assert envelope.key == envelope.payload["linkedid"]
        if envelope.type == CALL_ENDED:
            assert occurred == envelope.payload["ended_at"]
    # one call's events keep their order (key = linkedid)
    for call in want["calls"]:
        kinds = [e.type.split(".")[2] for e in seen if e.key == call["linkedid"]]
        assert kinds[0] == "ringing" and kinds[-1] == "ended"
