"""``/v1/flows`` and the pages over HTTP, against a running bus (no browser)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from bus.envelope import Envelope
from bus.errors import PermanentError
from bus.router import Router
from bus.telemetry import Metrics
from console.flows import FlowSampler, read_counters, subscription_rates, type_rates
from tests.conftest import eventually
from tests.console.conftest import ServeFactory

on_memory = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

THING = "test.thing.happened.v1"


def counting_router() -> tuple[Router, list[Envelope]]:
    """Processes every thing, except one whose ``n`` is "bad" (dead-lettered at once)."""
    router = Router(source="test")
    seen: list[Envelope] = []

    @router.subscriber("things", THING)
    async def things(envelope: Envelope) -> None:
        if envelope.payload.get("n") == "bad":
            raise PermanentError("a bad thing")
        seen.append(envelope)

    return router, seen


def by(entries: list[dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
    return {entry[field]: entry for entry in entries}


@on_memory
async def test_flows_count_messages_per_type_and_subscription_with_depths_and_health(
    serve: ServeFactory,
) -> None:
    router, seen = counting_router()
    served = await serve(router)
    queue = served.bus.queue_name(served.bus.subscriptions[0])
    for n in range(20):
        await served.bus.emit(THING, {"n": str(n)})
    await served.bus.emit(THING, {"n": "bad"})
    await eventually(lambda: len(seen) == 20)

    async with httpx.AsyncClient(base_url=served.url, timeout=10, headers=served.key) as client:
        async def flows_now() -> dict[str, Any]:
            flows: dict[str, Any] = (await client.get("/v1/flows")).json()
            return flows

        flows = await flows_now()
        deadline = time.monotonic() + 5
        while ((by(flows["journal"]["types"], "type").get(THING, {}).get("count") != 21
                or not flows["history"]["t"]) and time.monotonic() < deadline):
            flows = await flows_now()

    thing = by(flows["types"], "type")[THING]
    assert thing["published_total"] == 21
    assert thing["rate"] > 0
    subscription = by(flows["subscriptions"], "subscription")[queue]
    assert subscription["totals"] == {"processed": 20, "dead_lettered": 1}
    assert subscription["rate"] > 0 and subscription["error_rate"] > 0
    assert subscription["retry_rate"] == 0
    assert subscription["consumers"] == 1 and subscription["depth"] == 0
    assert subscription["latency_ms"] is not None
    assert flows["totals"]["processed"] == pytest.approx(subscription["rate"])
    assert by(flows["journal"]["types"], "type")[THING]["count"] == 21
    assert flows["journal"]["hops"]["dead_lettered"] == 1
    console = by(flows["adapters"], "name")["console"]
    assert (console["state"], console["healthy"]) == ("running", True)
    assert sum(flows["history"]["types"][THING]) > 0


@on_memory
async def test_a_paused_subscription_shows_paused_with_its_waiting_messages(
    serve: ServeFactory,
) -> None:
    router, seen = counting_router()
    served = await serve(router)
    queue = served.bus.queue_name(served.bus.subscriptions[0])
    await served.bus.pause("things")
    for n in range(3):
        await served.bus.emit(THING, {"n": str(n)})

    async with httpx.AsyncClient(base_url=served.url, timeout=10, headers=served.key) as client:
        paused = by((await client.get("/v1/flows")).json()["subscriptions"],
                    "subscription")[queue]
        await served.bus.resume("things")
        await eventually(lambda: len(seen) == 3)
        resumed = by((await client.get("/v1/flows")).json()["subscriptions"],
                     "subscription")[queue]

    assert (paused["paused"], paused["depth"], paused["consumers"]) == (True, 3, 0)
    assert (resumed["paused"], resumed["depth"], resumed["consumers"]) == (False, 0, 1)


@on_memory
async def test_pages_and_their_files_are_served_offline(serve: ServeFactory) -> None:
    served = await serve(components=("console",))
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        operator = await client.get("/ui/operator")
        console = await client.get("/ui/console")
        script = await client.get("/ui/static/console.js")
        missing = await client.get("/ui/static/nothing.js")
        index = await client.get("/ui", follow_redirects=False)
        anonymous = await client.get("/v1/flows")  # the pages are public, the API is not

    assert operator.headers["content-type"].startswith("text/html")
    assert "/ui/static/operator.js" in operator.text
    assert "journal-form" in console.text
    assert script.headers["content-type"].startswith("text/javascript")
    for page in (operator.text, console.text):
        assert "http://" not in page.replace("http://www.w3.org", "")  # nothing from a CDN
        assert "https://" not in page
    assert operator.headers["content-security-policy"].startswith("default-src 'self'")
    assert missing.status_code == 404
    assert index.headers["location"] == "/ui/console"
    assert anonymous.status_code == 401


def test_rates_are_the_difference_of_two_readings_over_the_time_between() -> None:
    metrics = Metrics()
    before = read_counters(metrics)
    metrics.message_published(THING, 10)
    for _ in range(4):
        metrics.message_consumed("q.things", "processed", 0.002)
    metrics.message_consumed("q.things", "retried", 0.004)
    after = read_counters(metrics)
    seconds = after.monotonic - before.monotonic

    types = type_rates(after, before)
    subscriptions = subscription_rates(after, before)

    assert types[THING]["rate"] == pytest.approx(10 / seconds)
    assert subscriptions["q.things"]["rate"] == pytest.approx(4 / seconds)
    assert subscriptions["q.things"]["retry_rate"] == pytest.approx(1 / seconds)
    assert subscriptions["q.things"]["latency_ms"] == pytest.approx(2.4)
    assert subscriptions["q.things"]["totals"] == {"processed": 4, "retried": 1}


def test_history_has_one_point_per_interval_and_series_for_late_types() -> None:
    metrics = Metrics()
    sampler = FlowSampler(metrics, history=10)
    sampler.sample()
    metrics.message_published("a.b.c.v1", 3)
    sampler.sample()
    metrics.message_published("d.e.f.v1", 2)
    sampler.sample()

    history = sampler.history()

    assert len(history["t"]) == 2
    assert history["types"]["a.b.c.v1"][0] > 0 and history["types"]["a.b.c.v1"][1] == 0
    assert history["types"]["d.e.f.v1"][0] == 0 and history["types"]["d.e.f.v1"][1] > 0
