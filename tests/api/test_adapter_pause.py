"""Stopping an adapter from the API pauses its subscriptions: its messages wait in its
queue (not handled, not dead-lettered) and drain, each once, when it is started again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bus.adapters.registry import LoadedAdapter
from tests.api.auth_harness import Secured, auth_settings, key, secured_api
from tests.conftest import BusFactory, eventually
from tests.sdk.sample_adapter import NotifierAdapter
from tests.sdk.test_adapter_contract import missed_call

pytestmark = pytest.mark.parametrize("broker_url", ["memory", "sqlite", "postgres", "rabbitmq"],
                                     indirect=True)

QUEUE = "notifier.missed-calls"


@pytest.fixture
async def api(make_bus: BusFactory) -> AsyncIterator[Secured]:
    bus = await make_bus(source="pause", start=False)
    async for secured in secured_api(bus, [LoadedAdapter("notifier", NotifierAdapter)],
                                     auth_settings()):
        yield secured


def notifier(api: Secured) -> NotifierAdapter:
    [instance] = [a.instance for a in api.host.adapters if a.name == "notifier"]
    assert isinstance(instance, NotifierAdapter)
    return instance


async def shown(api: Secured) -> dict[str, Any]:
    adapters = (await api.client.get("/v1/adapters", headers=key("admin"))).json()["adapters"]
    [found] = [adapter for adapter in adapters if adapter["name"] == "notifier"]
    return dict(found)


async def depth(api: Secured, expected: int) -> int:
    """The notifier queue's depth in ``/v1/topology`` once it is ``expected``, or the last."""
    messages = -1
    for _ in range(50):
        queues = (await api.client.get("/v1/topology", headers=key("admin"))).json()["queues"]
        [entry] = [q for q in queues if q["queue"].endswith(QUEUE)]
        messages = entry.get("messages", -1)
        if messages == expected:
            break
        await asyncio.sleep(0.05)
    return int(messages)


async def test_calls_missed_while_the_notifier_is_stopped_wait_and_are_sent_once_started(
    api: Secured,
) -> None:
    integrator = await api.bearer("ivan")
    stopped = await api.client.post("/v1/adapters/notifier/stop", headers=integrator)
    calls = [missed_call() for _ in range(3)]
    await api.bus.publish_many(calls)
    await asyncio.sleep(0.5)
    sent_while_stopped = list(notifier(api).outbox.sent)
    waiting = await depth(api, 3)
    listed_stopped = await shown(api)

    started = await api.client.post("/v1/adapters/notifier/start", headers=integrator)
    await eventually(lambda: len(notifier(api).outbox.sent) >= 3)
    await asyncio.sleep(0.3)
    listed_started = await shown(api)

    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["subscriptions"] == [{"name": QUEUE, "paused": True}]
    assert sent_while_stopped == [] and waiting == 3
    assert (listed_stopped["state"], listed_stopped["health"]) == ("stopped", "stopped by ivan")
    assert listed_stopped["subscriptions"] == [{"name": QUEUE, "paused": True}]
    assert started.status_code == 200, started.text
    assert len(notifier(api).outbox.sent) == 3
    assert (listed_started["state"], listed_started["subscriptions"]) == (
        "running", [{"name": QUEUE, "paused": False}])
    assert await depth(api, 0) == 0
    assert api.bus.dead_letters.count() == 0
