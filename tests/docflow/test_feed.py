"""The change feed: new documents are announced once, changes once, across restarts."""

from __future__ import annotations

import pytest

from adapters.docflow.simulator import DocflowSimulator
from bus.errors import ExternalSystemUnavailable
from tests.conftest import collector, eventually
from tests.docflow.conftest import AdapterFactory, settings_for

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

REGISTERED = "docflow.document.registered.v1"
CHANGED = "docflow.document.changed.v1"


def a_new_contract(sim: DocflowSimulator, object_id: str = "DOC-00000100") -> None:
    sim.data.add_row({"doc_id": object_id, "doc_type": "contract", "number": "CO-0000100",
                      "date": "2026-11-20", "account_no": "100245",
                      "counterparty_name": "Ivanova", "counterparty_inn": "246512345678",
                      "customer_id": "C-1001", "status": "signed"})


async def test_the_first_poll_is_a_snapshot_then_new_and_changed_documents_follow_once(
    simulator: DocflowSimulator, docflow_on: AdapterFactory,
) -> None:
    router, received = collector(REGISTERED, CHANGED)
    _bus, adapter = await docflow_on(settings_for(simulator, page_size=4), router)

    assert await adapter.feed.poll() == 6
    await eventually(lambda: len(received) == 6)
    assert {e.type for e in received} == {CHANGED}
    assert {e.payload["change"] for e in received} == {"updated"}
    assert adapter.feed.watermark() == max(
        p["cmis:lastModificationDate"] for p in simulator.data.all_properties())
    assert await adapter.feed.poll() == 0
    received.clear()

    a_new_contract(simulator)
    simulator.data.update("DOC-00000002", status="cancelled")

    assert await adapter.feed.poll() == 2
    await eventually(lambda: len(received) == 2)
    by_type = {e.type: e for e in received}
    assert by_type[REGISTERED].payload["document"]["id"] == "DOC-00000100"
    assert by_type[REGISTERED].payload["document"]["kind"] == "contract"
    assert by_type[CHANGED].payload["document"]["id"] == "DOC-00000002"
    assert by_type[CHANGED].payload["document"]["status"] == "cancelled"
    assert await adapter.feed.poll() == 0


async def test_the_watermark_survives_a_restart_and_nothing_is_published_again(
    simulator: DocflowSimulator, docflow_on: AdapterFactory,
) -> None:
    router, received = collector(REGISTERED, CHANGED)
    bus, adapter = await docflow_on(settings_for(simulator), router)
    await adapter.feed.poll()
    await eventually(lambda: len(received) == 6)
    watermark = adapter.feed.watermark()
    await adapter.stop()
    await bus.stop()

    _again, restarted = await docflow_on(settings_for(simulator, feed_overlap=60.0), router)
    assert restarted.feed.watermark() == watermark
    assert await restarted.feed.poll() == 0  # an overlap re-reads, but publishes nothing
    a_new_contract(simulator)
    assert await restarted.feed.poll() == 1

    await eventually(lambda: len(received) == 7)
    assert received[-1].type == REGISTERED
    assert received[-1].payload["document"]["id"] == "DOC-00000100"


async def test_a_poll_that_fails_halfway_publishes_each_change_exactly_once_when_resumed(
    simulator: DocflowSimulator, docflow_on: AdapterFactory,
) -> None:
    router, received = collector(REGISTERED, CHANGED)
    _bus, adapter = await docflow_on(settings_for(simulator, page_size=2), router)
    simulator.drop(times=1, operation="query", after=1)  # the second page cannot be read

    with pytest.raises(ExternalSystemUnavailable, match="RemoteProtocolError"):
        await adapter.feed.poll()
    await eventually(lambda: len(received) == 2)  # the first page was committed
    first_page = [simulator.data.properties(e.payload["document"]["id"]) or {}
                  for e in received]
    assert adapter.feed.watermark() == max(p["cmis:lastModificationDate"] for p in first_page)

    assert await adapter.feed.poll() == 4
    assert await adapter.feed.poll() == 0
    await eventually(lambda: len(received) == 6)
    assert sorted(e.payload["document"]["id"] for e in received) == [
        f"DOC-0000000{n}" for n in range(1, 7)]


async def test_the_running_feed_notices_a_new_document_on_its_own(
    simulator: DocflowSimulator, docflow_on: AdapterFactory,
) -> None:
    router, received = collector(REGISTERED, CHANGED)
    _bus, adapter = await docflow_on(settings_for(simulator, feed=True), router)
    await eventually(lambda: len(received) == 6)

    a_new_contract(simulator, "DOC-00000101")

    await eventually(lambda: any(e.type == REGISTERED for e in received))
    assert [e.payload["document"]["id"] for e in received if e.type == REGISTERED] == [
        "DOC-00000101"]
    assert (await adapter.health()).ok
