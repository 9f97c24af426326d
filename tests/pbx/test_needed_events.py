"""Only the AMI events the adapter reads are parsed, and the PBX is asked to send only those."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.ami.protocol import AmiParser
from adapters.pbx.calls import CallTracker
from adapters.pbx.pipeline import AMI_FILTERS, NEEDED_EVENTS
from bus.app import Bus
from bus.settings import Settings
from tests.conftest import eventually
from tests.pbx.ami_server import FakeAmi, Session
from tests.pbx.conftest import ami_settings

NEWSTATE = (b"Event: Newstate\r\nPrivilege: call,all\r\nChannel: PJSIP/2001-00000001\r\n"
            b"Uniqueid: 1.2\r\nLinkedid: 1.1\r\n\r\n")
HANGUP = (b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/2001-00000001\r\n"
          b"Uniqueid: 1.2\r\nLinkedid: 1.1\r\nCause: 16\r\n\r\n")
LIST_ITEM = (b"Event: CoreShowChannel\r\nActionID: coreshowchannels-1\r\n"
             b"Channel: PJSIP/2001-00000001\r\nUniqueid: 1.2\r\n\r\n")
REPLY = b"Response: Success\r\nActionID: ping-1\r\nPing: Pong\r\n\r\n"


def test_events_nobody_reads_are_dropped_unparsed_but_replies_to_actions_are_kept() -> None:
    parser = AmiParser(expect_banner=False, keep_events=("Hangup",))

    messages = parser.feed(NEWSTATE + HANGUP + LIST_ITEM + REPLY)

    assert [(m.kind, m.name) for m in messages] == [
        ("event", "Hangup"), ("event", "CoreShowChannel"), ("response", "Success")]
    assert messages[0].get("Cause") == "16"
    assert parser.stats.skipped_events == 1
    assert parser.stats.events == 2


def test_without_a_keep_list_every_event_is_parsed() -> None:
    parser = AmiParser(expect_banner=False)

    messages = parser.feed(NEWSTATE + HANGUP)

    assert [m.name for m in messages] == ["Newstate", "Hangup"]
    assert parser.stats.skipped_events == 0


def test_every_event_the_call_state_machine_handles_is_among_the_needed_ones() -> None:
    handled = {name.removeprefix("_on_") for name in dir(CallTracker)
               if name.startswith("_on_")}
    needed = {name.lower() for name in NEEDED_EVENTS}

    assert handled, "the call state machine names its handlers _on_<event>"
    assert handled <= needed


def test_the_pbx_filters_let_needed_events_through_and_dialplan_noise_not() -> None:
    filters = [re.compile(expression) for expression in AMI_FILTERS]

    def passes(block: str) -> bool:
        return any(f.search(block) for f in filters)

    assert all(passes(f"Event: {name}\r\nPrivilege: call,all\r\n\r\n")
               for name in NEEDED_EVENTS if name != "VarSet")
    assert passes("Event: VarSet\r\nVariable: DIALSTATUS\r\nValue: BUSY\r\n\r\n")
    assert not passes("Event: VarSet\r\nVariable: __FROM_DID\r\nValue: 74951234567\r\n\r\n")
    assert not passes("Event: Newstate\r\nChannelState: 5\r\n\r\n")
    assert not passes("Event: Newexten\r\nApplication: Dial\r\n\r\n")


async def test_the_adapter_asks_the_pbx_for_only_the_events_it_reads(tmp_path: Path) -> None:
    bus = Bus(Settings(broker_url="memory://needed-events",
                       database_url=f"sqlite:///{tmp_path}/bus.db"), source="pbx")
    async with FakeAmi([Session()], secret="secret") as pbx:
        adapter = PbxAdapter(ami_settings(pbx.port), bus)
        await adapter.client.start()
        try:
            await eventually(lambda: len(pbx.actions_named("Filter")) == len(AMI_FILTERS))
        finally:
            await adapter.client.stop()
            bus.close()
    assert [a.get("Filter") for _, a in pbx.actions_named("Filter")] == list(AMI_FILTERS)


async def test_an_adapter_told_to_read_everything_sends_no_filter(tmp_path: Path) -> None:
    bus = Bus(Settings(broker_url="memory://all-events",
                       database_url=f"sqlite:///{tmp_path}/bus.db"), source="pbx")
    adapter = PbxAdapter(ami_settings(1, needed_events_only=False), bus)

    assert adapter.client.keep_events is None
    assert adapter.client.filters == ()
    bus.close()
