"""Routing's own port for the dialplan: a real TCP listener on loopback, asked the way
Asterisk's ``CURL()`` asks (one GET per connection)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.routing.dialplan import DialplanDoor
from bus.envelope import Envelope
from bus.router import Router
from tests.conftest import BusFactory, collector, eventually
from tests.pbx.conftest import ami_settings
from tests.pbx.routing.conftest import KNOWN_CALLER, STAFF, customer

ON_MEMORY = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def door(make_bus: BusFactory) -> AsyncIterator[tuple[str, list[Envelope]]]:
    """A PBX adapter (no PBX needed) whose routing listens on a port of its own."""
    observer, decided = collector("pbx.route.decided.v1")
    bus = await make_bus(observer, start=False, source="pbx")
    port = free_port()
    adapter = PbxAdapter(ami_settings(1, routing={
        "crm_lookup": False, "unknown_strategy": "secretary", "secretary": "2500",
        "dialplan_port": port}), bus)
    await bus.start()
    await adapter.routing.start()
    assert adapter.dialplan is not None
    await adapter.dialplan.start()
    for payload in STAFF:
        await adapter.routing.manager_changed(payload)
    await adapter.routing.customer_changed(Envelope(
        type="crm.customer.changed.v1", source="crm",
        payload=customer("C-1", KNOWN_CALLER, manager_id="anna")))
    yield f"http://127.0.0.1:{port}", decided
    await adapter.stop()


@ON_MEMORY
async def test_the_dialplan_port_answers_a_curl_line_and_json(
    door: tuple[str, list[Envelope]],
) -> None:
    url, decided = door
    async with httpx.AsyncClient(base_url=url) as client:
        line = await client.get("/route", params={"caller": "89161234567",
                                                  "called": "74951234567",
                                                  "linkedid": "1764054000.21"})
        answer = await client.get("/v1/adapters/pbx/route", params={
            "caller": "+79990001122", "format": "json"})

    assert line.status_code == 200
    assert line.headers["content-type"].startswith("text/plain")
    assert line.text == "extension,PJSIP/2001,owner"
    assert answer.headers["content-type"] == "application/json"
    assert (answer.json()["rule"], answer.json()["target_extension"]) == ("secretary", "2500")
    await eventually(lambda: len(decided) == 2)
    assert {e.payload["linkedid"] for e in decided} >= {"1764054000.21"}


@ON_MEMORY
async def test_the_dialplan_port_serves_nothing_but_the_routing_question(
    door: tuple[str, list[Envelope]],
) -> None:
    url, decided = door
    async with httpx.AsyncClient(base_url=url) as client:
        posted = await client.post("/route", params={"caller": KNOWN_CALLER})
        elsewhere = await client.get("/v1/adapters/pbx/presence")
        bad_linkedid = await client.get("/route", params={"linkedid": "no spaces allowed"})
        bad_format = await client.get("/route", params={"format": "xml"})

    assert (posted.status_code, elsewhere.status_code) == (405, 404)
    assert (bad_linkedid.status_code, bad_format.status_code) == (422, 422)
    assert decided == []


async def ask_raw(url: str, *pieces: bytes, pause: float = 0.05,
                  half_close: bool = False) -> bytes:
    """Send a request in pieces on one connection; everything the door answers."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(pause)
    if half_close:
        writer.write_eof()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    return answer


@ON_MEMORY
async def test_a_request_sent_in_pieces_is_answered_once_its_head_is_complete(
    door: tuple[str, list[Envelope]],
) -> None:
    url, _ = door

    answer = await ask_raw(url, b"GET /route?caller=89161234567&linkedid=1764054000.3",
                           b"0 HTTP/1.1\r\nHost: pbx\r\n", b"\r\n")

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: %d" % len(body) in head
    assert body == b"extension,PJSIP/2001,owner"


@ON_MEMORY
async def test_a_connection_closed_before_the_head_ends_gets_bad_request(
    door: tuple[str, list[Envelope]],
) -> None:
    url, decided = door

    answer = await ask_raw(url, b"GET /route?caller=89161234567 HTTP/1.1\r\n",
                           half_close=True)

    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert decided == []


@ON_MEMORY
async def test_a_caller_only_the_crm_knows_is_answered_after_asking_it(
    make_bus: BusFactory,
) -> None:
    crm = Router(source="crm")

    @crm.responder("crm.customer.requested.v1", "crm.customer.replied.v1", name="test-crm")
    async def find(payload: dict[str, Any]) -> dict[str, Any]:
        found = customer("C-9", payload["phone"], manager_id="anna")["customer"]
        return {"customers": [found] if payload["phone"] == "+79990001122" else []}

    bus = await make_bus(crm, start=False, source="pbx")
    port = free_port()
    adapter = PbxAdapter(ami_settings(1, routing={
        "crm_lookup": True, "unknown_strategy": "secretary", "secretary": "2500",
        "dialplan_port": port}), bus)
    await bus.start()
    await adapter.routing.start()
    assert adapter.dialplan is not None
    await adapter.dialplan.start()
    for payload in STAFF:
        await adapter.routing.manager_changed(payload)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            known = await client.get("/route", params={"caller": "+79990001122"})
            stranger = await client.get("/route", params={"caller": "+79990003344"})
    finally:
        await adapter.stop()

    assert known.text == "extension,PJSIP/2001,owner"
    assert stranger.text == "extension,PJSIP/2500,secretary"


def test_no_dialplan_port_unless_configured() -> None:
    adapter = PbxAdapter(ami_settings(1), bus=None)
    door = DialplanDoor(adapter.routing, "127.0.0.1", 0)

    assert adapter.dialplan is None
    assert door.answered == 0
