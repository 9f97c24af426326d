"""A PBX whose Pong is stuck behind a stream of events is behind, not gone: no reconnect.

Under load the reader can fall seconds behind the PBX; the Pong then waits in the socket
behind the events not yet read. Dropping such a link would close every call in flight
(and rebuild them from a snapshot) exactly when the adapter is busiest.
"""

from __future__ import annotations

import asyncio

from adapters.pbx.ami.client import AmiClient
from adapters.pbx.ami.protocol import AmiMessage, AmiParser
from tests.pbx.ami_server import block
from tests.pbx.conftest import ami_settings

EVENT = block(("Event", "DeviceStateChange"), ("Device", "PJSIP/2001"), ("State", "INUSE"))


class StreamingPbx:
    """Answers Login, never answers Ping, and streams events while ``streaming`` is set.
    (A silent link that does not answer is dropped: ``test_client.py``.)"""

    def __init__(self) -> None:
        self.streaming = asyncio.Event()
        self.streaming.set()
        self.connections = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.add(writer)
        writer.write(b"Asterisk Call Manager/7.0.3\r\n")
        parser = AmiParser(expect_banner=False)
        feeding = asyncio.create_task(self._feed(writer))
        try:
            while data := await reader.read(65536):
                for action in parser.feed(data):
                    if action.name.lower() == "login":
                        writer.write(block(("Response", "Success"),
                                           ("ActionID", action.action_id or "")))
        finally:
            feeding.cancel()
            writer.close()
            self.writers.discard(writer)

    async def close(self) -> None:
        for writer in list(self.writers):
            writer.close()
            await writer.wait_closed()

    async def _feed(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await self.streaming.wait()
            writer.write(EVENT)
            await asyncio.sleep(0.02)


async def test_a_link_that_keeps_delivering_events_survives_unanswered_pings() -> None:
    pbx = StreamingPbx()
    server = await asyncio.start_server(pbx.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    seen: list[AmiMessage] = []

    async def on_events(events: list[AmiMessage]) -> None:
        seen.extend(events)

    client = AmiClient(ami_settings(port, ping_interval=0.1, ping_timeout=0.2),
                       on_events=on_events)
    await client.start()
    try:
        await client.wait_connected(5)
        await asyncio.sleep(1.0)  # five Pings unanswered, events all along
        sessions_while_streaming = client.sessions
    finally:
        await client.stop()
        server.close()
        await pbx.close()
        await server.wait_closed()

    assert sessions_while_streaming == 1
    assert pbx.connections == 1
    assert len(seen) >= 10
