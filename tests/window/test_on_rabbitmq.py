"""The view and the screen pop over RabbitMQ: request-reply, events and deadlines."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import eventually
from tests.window.backends import ACCOUNTS, PHONE
from tests.window.conftest import WindowFactory
from tests.window.sse import SseReader, serve
from tests.window.test_screen_pop import feed_directory, ringing

pytestmark = [pytest.mark.rabbitmq,
              pytest.mark.parametrize("broker_url", ["rabbitmq"], indirect=True)]


async def test_view_on_rabbitmq_dead_backend_cache_and_invalidation(
        start_window: WindowFactory) -> None:
    window = await start_window(latency={"documents": None, "billing": 0.05},
                                deadlines={"documents": 0.5})

    began = time.monotonic()
    view = await window.view("/v1/customers/lookup", phone=PHONE)
    assert time.monotonic() - began < 0.5 + 0.5  # the deadline, with slack for a busy broker
    assert view["sections"]["documents"]["status"] == "unavailable"
    assert view["sections"]["billing"]["status"] == "fresh"

    again = await window.view("/v1/customers/lookup", phone=PHONE)
    assert again["sections"]["billing"]["status"] == "cached"
    assert again["sections"]["billing"]["age_seconds"] > 0

    await window.bus.emit("billing.balance.changed.v1", {
        "account_number": ACCOUNTS[1], "balance": {"amount": "0.00", "currency": "RUB"},
        "reason": "payment", "changed_at": "2026-01-10T10:00:00Z"})
    await eventually(lambda: window.component.state.cache.invalidations > 0, 10)
    after = await window.view("/v1/customers/lookup", phone=PHONE)
    assert after["sections"]["billing"]["status"] == "fresh"
    assert after["sections"]["crm"]["status"] == "cached"


async def test_screen_pop_on_rabbitmq(start_window: WindowFactory) -> None:
    window = await start_window()
    await feed_directory(window)

    async with serve(window.app) as base, httpx.AsyncClient(base_url=base) as http, \
            http.stream("GET", "/v1/screen-pop/stream", params={"agent": "2002"}) as response:
        events = SseReader(response)
        await events.next()
        await window.bus.emit("pbx.call.ringing.v1", ringing(PHONE, ["2002"]))

        local = await events.next()
        enriched = await events.next()

        assert local["stage"] == "local" and local["card"]["name"] == "Иванова Мария"
        assert enriched["stage"] == "enriched" and enriched["view"]["complete"] is True


async def test_two_window_replicas_each_pop_their_agents_and_drop_their_caches(
        start_window: WindowFactory) -> None:
    """The window's subscriptions are per instance: behind a load balancer, every replica
    gets every ringing call and every change, not a share of them."""
    replicas = [await start_window(), await start_window()]
    for window in replicas:
        await window.view("/v1/customers/lookup", phone=PHONE)  # billing now cached in each
    await feed_directory(replicas[0])  # its events reach the other replica's directory too
    await eventually(lambda: all(len(w.component.state.directory) >= 1 for w in replicas), 10)

    async with serve(replicas[0].app) as first, serve(replicas[1].app) as second, \
            httpx.AsyncClient() as http, \
            http.stream("GET", f"{first}/v1/screen-pop/stream", params={"agent": "2001"}) as a, \
            http.stream("GET", f"{second}/v1/screen-pop/stream", params={"agent": "2002"}) as b:
        on_first, on_second = SseReader(a), SseReader(b)
        await on_first.next()
        await on_second.next()
        await replicas[0].bus.emit("pbx.call.ringing.v1", ringing(PHONE, ["2001", "2002"]))

        popped = [await on_first.next(), await on_second.next()]
        enriched = [await on_first.next(), await on_second.next()]  # each gathered its view

    assert [pop["stage"] for pop in popped] == ["local", "local"]
    assert [pop["card"]["name"] for pop in popped] == ["Иванова Мария"] * 2
    assert [pop["stage"] for pop in enriched] == ["enriched", "enriched"]
    before = [w.component.state.cache.invalidations for w in replicas]
    await replicas[1].bus.emit("billing.balance.changed.v1", {
        "account_number": ACCOUNTS[1], "balance": {"amount": "0.00", "currency": "RUB"},
        "reason": "payment", "changed_at": "2026-01-10T10:00:00Z"})
    await eventually(lambda: all(w.component.state.cache.invalidations > count
                                 for w, count in zip(replicas, before, strict=True)), 10)
    for window in replicas:
        after = await window.view("/v1/customers/lookup", phone=PHONE)
        assert after["sections"]["billing"]["status"] == "fresh"
