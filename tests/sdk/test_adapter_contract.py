"""Adapters plug in through entry points; a broken one is reported and skipped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.adapters import AdapterHost, discover
from bus.envelope import Envelope
from tests.delivery.conftest import BusFactory, eventually
from tests.entry_points import write_distribution
from tests.sdk.sample_adapter import NotifierAdapter

pytestmark = pytest.mark.asyncio


@pytest.fixture
def installed_adapters(tmp_path: Path) -> Iterator[str]:
    """A distribution on sys.path declaring three adapters: good, misconfigured, missing."""
    group = "esb.test-adapters"
    write_distribution(tmp_path, "sample-adapters", {group: {
        "notifier": "tests.sdk.sample_adapter:NotifierAdapter",
        "misconfigured": "tests.sdk.sample_adapter:MisconfiguredAdapter",
        "ghost": "tests.sdk.no_such_module:GhostAdapter",
    }})
    sys.path.insert(0, str(tmp_path))
    yield group
    sys.path.remove(str(tmp_path))


def missed_call() -> Envelope:
    return Envelope(type="pbx.call.ended.v1", source="pbx", payload={
        "linkedid": "1.1", "direction": "inbound", "caller_number": "+79123456789",
        "called_number": "73912001122", "queue": None, "ring_targets": ["2001"],
        "answered_by_extension": None, "started_at": "2024-03-12T06:15:07Z",
        "answered_at": None, "ended_at": "2024-03-12T06:15:37Z", "ring_seconds": 30,
        "talk_seconds": 0, "disposition": "missed", "transferred_to": None, "hangup_cause": 16,
    })


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_discovered_adapter_runs_with_its_client_injected_and_broken_ones_are_skipped(
    installed_adapters: str, make_bus: BusFactory,
) -> None:
    found = {loaded.name: loaded for loaded in discover(installed_adapters)}
    assert set(found) == {"notifier", "misconfigured", "ghost"}
    assert found["ghost"].state == "failed"
    assert "ModuleNotFoundError" in (found["ghost"].error or "")

    bus = await make_bus(start=False)
    host = AdapterHost(bus, list(found.values()))
    host.build()
    assert found["misconfigured"].state == "failed"
    assert "url" in (found["misconfigured"].error or "")
    await bus.start()
    await host.start()
    notifier = found["notifier"].instance
    assert isinstance(notifier, NotifierAdapter)

    await bus.publish(missed_call())
    await eventually(lambda: len(notifier.outbox.sent) == 1)
    assert notifier.outbox.sent == [
        {"from": "ESB", "to": "2001", "text": "missed call from +79123456789"}]
    health = {loaded.name: loaded.to_json() for loaded in await host.refresh_health()}
    assert health["notifier"]["state"] == "running"
    assert health["notifier"]["healthy"] is True
    assert health["ghost"]["state"] == "failed"
    await host.stop()
    assert not notifier.started
