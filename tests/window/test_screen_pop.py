"""Screen pop over Server-Sent Events, read by a real HTTP client from a real server."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.conftest import eventually
from tests.window.backends import CRM_ID, GOLDEN, MANAGER, PHONE
from tests.window.conftest import Window, WindowFactory
from tests.window.sse import SseReader, serve

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)


def ringing(caller: str | None, targets: list[str], linkedid: str = "1764160000.1") -> dict[
        str, Any]:
    return {"linkedid": linkedid, "direction": "inbound", "caller_number": caller,
            "called_number": "73912001122", "queue": "support", "ring_targets": targets,
            "started_at": "2026-11-26T12:00:00Z"}


async def feed_directory(window: Window) -> None:
    """What the CRM said about the caller and her manager, before she calls."""
    await window.bus.emit("crm.manager.changed.v1", {"change": "updated", "manager": {
        "id": MANAGER["id"], "last_name": "Петров", "first_name": "Олег", "extension": "2001"}})
    await window.bus.emit("crm.customer.changed.v1", {"change": "updated", "customer": {
        "id": CRM_ID, "person": {"last_name": "Иванова", "first_name": "Мария"},
        "segment": "vip", "manager_id": MANAGER["id"], "contacts": [{"phone": PHONE}]}})
    directory = window.component.state.directory
    await eventually(lambda: directory.manager(MANAGER["id"]) is not None
                     and len(directory) == 1, 5)


async def test_ringing_pops_the_local_card_at_once_then_the_enriched_one(
        start_window: WindowFactory) -> None:
    window = await start_window(latency={"billing": 0.6})
    await feed_directory(window)

    async with serve(window.app) as base, httpx.AsyncClient(base_url=base) as http, \
            http.stream("GET", "/v1/screen-pop/stream", params={"agent": "2002"}) as response:
        events = SseReader(response)
        assert await events.next() == {"event": "connected", "agent": "2002"}
        began = time.monotonic()
        await window.bus.emit("pbx.call.ringing.v1", ringing("89123456789", ["2002", "2003"]))

        local = await events.next()
        local_after = time.monotonic() - began
        enriched = await events.next()
        enriched_after = time.monotonic() - began

        assert local["event"] == "pop" and local["stage"] == "local"
        assert local["caller"] == PHONE and local["ring_targets"] == ["2002", "2003"]
        assert local["card"]["known"] is True
        assert local["card"]["name"] == "Иванова Мария"
        assert local["card"]["segment"] == "vip"
        assert local["card"]["manager"] == {"id": MANAGER["id"], "name": "Петров Олег",
                                            "extension": "2001"}
        assert local_after < 0.6  # it did not wait for the slow billing
        assert enriched["stage"] == "enriched" and enriched["call_id"] == local["call_id"]
        assert enriched_after >= 0.6
        assert enriched["card"]["golden_id"] == GOLDEN
        assert enriched["card"]["accounts"][0]["balance"]["amount"] == "-125.50"
        assert enriched["view"]["sections"]["billing"]["status"] == "fresh"

        await window.bus.emit("pbx.call.answered.v1", {
            **ringing("89123456789", ["2002", "2003"]), "answered_by_extension": "2003",
            "answered_at": "2026-11-26T12:00:05Z", "ring_seconds": 5})
        answered = await events.next()
        assert answered["event"] == "answered" and answered["answered_by"] == "2003"

        await window.bus.emit("pbx.call.ended.v1", {
            **ringing("89123456789", ["2002", "2003"]), "answered_by_extension": "2003",
            "answered_at": "2026-11-26T12:00:05Z", "ended_at": "2026-11-26T12:01:05Z",
            "ring_seconds": 5, "talk_seconds": 60, "disposition": "answered",
            "transferred_to": None, "hangup_cause": 16})
        ended = await events.next()
        assert ended["event"] == "ended" and ended["disposition"] == "answered"


async def test_an_unknown_caller_gets_a_new_caller_card(start_window: WindowFactory) -> None:
    window = await start_window()

    async with serve(window.app) as base, httpx.AsyncClient(base_url=base) as http, \
            http.stream("GET", "/v1/screen-pop/stream", params={"agent": "2005"}) as response:
        events = SseReader(response)
        await events.next()
        await window.bus.emit("pbx.call.ringing.v1", ringing("+79990001122", ["2005"]))

        local = await events.next()
        enriched = await events.next()

        assert local["card"]["known"] is False and local["card"]["title"] == "New caller"
        assert local["card"]["phone"] == "+79990001122"
        assert enriched["stage"] == "enriched" and enriched["card"]["known"] is False
        assert enriched["view"]["sections"]["crm"]["found"] is False

        await window.bus.emit("pbx.call.ringing.v1",
                              ringing(None, ["2005"], linkedid="1764160000.2"))
        withheld = await events.next()
        assert withheld["card"]["known"] is False and withheld["caller"] is None


@pytest.mark.parametrize("producer", ["normalised by the PBX adapter", "an older producer"])
async def test_click_to_call_pops_the_dialled_customers_card_on_the_agents_phone(
        start_window: WindowFactory, producer: str) -> None:
    window = await start_window()
    await feed_directory(window)
    call = {**ringing("2002", ["2002"]), "direction": "outbound", "queue": None,
            "called_number": "89123456789"}  # the agent's phone rings first
    if producer == "normalised by the PBX adapter":
        call["customer_e164"] = PHONE

    async with serve(window.app) as base, httpx.AsyncClient(base_url=base) as http, \
            http.stream("GET", "/v1/screen-pop/stream", params={"agent": "2002"}) as response:
        events = SseReader(response)
        await events.next()
        await window.bus.emit("pbx.call.ringing.v1", call)
        local = await events.next()

    assert local["caller"] == PHONE and local["direction"] == "outbound"
    assert local["card"]["known"] is True and local["card"]["name"] == "Иванова Мария"


async def test_the_number_the_pbx_adapter_normalised_is_the_one_looked_up(
        start_window: WindowFactory) -> None:
    """A PBX abroad (its region: DE) sends national numbers; the window (region RU) takes
    the adapter's E.164 instead of reading them as Russian ones."""
    window = await start_window()
    german = "+494952345678"
    await window.bus.emit("crm.customer.changed.v1", {"change": "updated", "customer": {
        "id": "crm-de-1", "person": {"last_name": "Braun", "first_name": "Eva"},
        "segment": None, "manager_id": None, "contacts": [{"phone": german}]}})
    directory = window.component.state.directory
    await eventually(lambda: directory.card(german)["known"], 5)

    async with serve(window.app) as base, httpx.AsyncClient(base_url=base) as http, \
            http.stream("GET", "/v1/screen-pop/stream", params={"agent": "2005"}) as response:
        events = SseReader(response)
        await events.next()
        await window.bus.emit("pbx.call.ringing.v1",
                              {**ringing("4952345678", ["2005"]), "customer_e164": german})
        local = await events.next()

    assert local["caller"] == german and local["card"]["name"] == "Braun Eva"


async def test_a_page_that_closes_is_forgotten(start_window: WindowFactory) -> None:
    window = await start_window()
    hub = window.component.state.hub

    async with serve(window.app) as base, httpx.AsyncClient(base_url=base) as http:
        async with http.stream("GET", "/v1/screen-pop/stream",
                               params={"agent": "2007"}) as response:
            await SseReader(response).next()
            sessions = (await http.get("/v1/screen-pop/sessions")).json()
            assert sessions["agents"] == {"2007": 1}
        await eventually(lambda: hub.agents() == {}, 5)


async def test_a_page_opened_while_the_phone_rings_still_gets_the_pop(
        start_window: WindowFactory) -> None:
    window = await start_window()
    await feed_directory(window)
    await window.bus.emit("pbx.call.ringing.v1", ringing(PHONE, ["2002"]))
    screen_pop = window.component.state.screen_pop
    await eventually(lambda: len(screen_pop.ringing_for("2002")) == 2, 5)  # local + enriched

    async with serve(window.app) as base, httpx.AsyncClient(base_url=base) as http, \
            http.stream("GET", "/v1/screen-pop/stream", params={"agent": "2002"}) as response:
        events = SseReader(response)
        await events.next()
        local, enriched = await events.next(), await events.next()

    assert (local["stage"], enriched["stage"]) == ("local", "enriched")
    assert local["card"]["name"] == "Иванова Мария"
    await window.bus.emit("pbx.call.answered.v1", {
        **ringing(PHONE, ["2002"]), "answered_by_extension": "2002",
        "answered_at": "2026-11-26T12:00:05Z", "ring_seconds": 5})
    await eventually(lambda: screen_pop.ringing_for("2002") == [], 5)


async def test_a_golden_record_teaches_the_directory_and_drops_cached_answers(
        start_window: WindowFactory) -> None:
    window = await start_window()
    await window.view("/v1/customers/lookup", phone=PHONE)
    state = window.component.state
    cached = len(state.cache)

    await window.bus.emit("sync.customer.updated.v1", {
        "golden_id": "g-777", "changed_fields": ["segment"],
        "customer": {"id": "g-777", "person": {"last_name": "Сидоров"}, "segment": "sme",
                     "contacts": [{"phone": "+79995550011"}]},
        "sources": [{"system": "crm", "id": CRM_ID}]})
    await eventually(lambda: state.directory.card("+79995550011")["known"], 5)

    card = state.directory.card("+79995550011")
    assert card["name"] == "Сидоров" and card["segment"] == "sme"
    assert card["golden_id"] == "g-777" and card["crm_id"] == CRM_ID
    assert len(state.cache) < cached  # the answers naming crm-100245 are gone
