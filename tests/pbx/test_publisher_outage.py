"""The broker does not take PBX events: they wait in the outbox (SQL), in order, and the
next relay publishes them — even from another process, after this one died."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.pbx.ami.protocol import AmiParser
from adapters.pbx.events import PbxEvent
from adapters.pbx.pipeline import Pipeline
from adapters.pbx.publisher import PbxPublisher
from bus.app import Bus
from bus.settings import Settings
from tests.conftest import BusFactory, eventually
from tests.pbx.conftest import Collector, scenario_names, transcript

NOBODY_LISTENS = "amqp://guest:guest@127.0.0.1:9/%2F"


def events_of(scenario: str) -> list[PbxEvent]:
    if scenario not in scenario_names():
        pytest.skip(f"AMI fixture {scenario} absent (../shared/fixtures/ami)")
    parser = AmiParser(expect_banner=True)
    pipeline = Pipeline()
    return pipeline.feed(parser.feed(transcript(scenario).read_bytes()))


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_events_the_broker_did_not_take_are_published_later_from_the_outbox(
    make_bus: BusFactory, collector: Collector, tmp_path: Path,
) -> None:
    events = events_of("inbound_queue_answered")
    cut_off = Bus(Settings(broker_url=NOBODY_LISTENS,
                           database_url=f"sqlite:///{tmp_path / 'bus.db'}"), source="pbx")
    publisher = PbxPublisher(cut_off)

    await publisher.publish(events[:3])
    await publisher.publish(events[3:])  # while rows wait, later batches queue behind them

    assert (publisher.published, publisher.spilled) == (0, len(events))
    assert publisher.spilling
    cut_off.close()  # the process dies during the outage

    router, seen = collector
    await make_bus(router)  # the next process on the same database: its relay publishes
    await eventually(lambda: len(seen) == len(events))
    assert [e.type for e in seen] == [e.type for e in events]
    assert [e.key for e in seen] == [e.key for e in events]
    assert [e.payload for e in seen] == [e.payload for e in events]
