"""The AMI client's reader against a PBX (a real TCP server on loopback) that sends
garbage between its events: the connection is kept, and every event after a blank line
arrives - the stream re-synchronises instead of costing a reconnect."""

from __future__ import annotations

from hypothesis import strategies as st

from adapters.pbx.ami.client import AmiClient
from adapters.pbx.ami.protocol import AmiMessage
from tests.conftest import eventually
from tests.fuzz.bounds import drawn
from tests.pbx.ami_server import FakeAmi, Session, block
from tests.pbx.conftest import ami_settings

NEAR_AMI = st.lists(st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"Event: Newchannel", b"Response: Success", b"ActionID: login-1",
                     b"Event:", b": value", b"Key value", "CallerIDName: Ян".encode("cp1251"),
                     b"\xd0", b"\r", b"Event: Hangup\r\n\r\n", b"Linkedid: " + b"9" * 5000]),
), max_size=12).map(lambda parts: b"\n".join(parts))


async def test_garbage_between_events_costs_neither_the_connection_nor_a_later_event(
) -> None:
    garbage = drawn(NEAR_AMI, 60)
    stream = b"".join(chunk + b"\r\n\r\n" + block(("Event", "FuzzMarker"), ("Seq", str(n)))
                      for n, chunk in enumerate(garbage))
    markers: list[str] = []

    async def on_events(events: list[AmiMessage]) -> None:
        markers.extend(e.get("Seq") or "" for e in events if e.name == "FuzzMarker")

    async with FakeAmi([Session(rest=stream, hold_until="Login")], secret="secret") as pbx:
        client = AmiClient(ami_settings(pbx.port, max_value_chars=1024), on_events=on_events)
        await client.start()
        try:
            await client.wait_connected(5)
            await eventually(lambda: len(markers) >= len(garbage), timeout=20)
        finally:
            await client.stop()
    assert markers == [str(n) for n in range(len(garbage))]
    assert (client.sessions, pbx.connections) == (1, 1), "garbage must not cost a reconnect"
