"""Metrics and topology ask the broker about every queue at once.

A bus with many subscriptions used to ask for each queue's depth in turn:
on the SQL broker that was three statements per queue, each queued behind
every consumer's polling on the broker thread. Now one batch answers all of
them, with the same depths on every transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from bus.app import Bus
from bus.envelope import Envelope
from bus.router import Router
from bus.transport import OutgoingMessage, QueueSpec, QueueStats, dead_letter_queue
from bus.transport.sql.transport import SqlTransport
from tests.conftest import BusFactory

pytestmark = pytest.mark.asyncio

SUBSCRIPTIONS = 24


def many_subscriptions() -> Router:
    router = Router(source="test")
    for index in range(SUBSCRIPTIONS):

        async def handle(envelope: Envelope) -> None:
            del envelope

        handle.__qualname__ = f"handle_{index}"
        router.subscriber(f"s{index:02d}", "test.thing.happened.v1")(handle)
    return router


def expected_depths(bus: Bus) -> dict[str, int]:
    """A different number of ready messages in every queue and every DLQ."""
    depths: dict[str, int] = {}
    for index, subscription in enumerate(bus.subscriptions):
        queue = bus.queue_name(subscription)
        depths[queue] = index % 4
        depths[dead_letter_queue(queue)] = (index + 1) % 3
    return depths


async def fill(bus: Bus, depths: dict[str, int]) -> None:
    for queue, count in depths.items():
        for n in range(count):
            await bus.transport.send_to_queue(queue, OutgoingMessage(
                body=b"{}", routing_key="test.thing.happened.v1", message_id=f"{queue}-{n}"))


@contextmanager
def counted_statements(bus: Bus) -> Iterator[list[str]]:
    """Every SQL statement the broker's engine sends while inside."""
    assert isinstance(bus.transport, SqlTransport)
    engine = bus.transport.store.engine
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Reads only: the reply consumer's claims (UPDATE, or SELECT FOR UPDATE
        # on PostgreSQL) and heartbeats go on meanwhile.
        if statement.lstrip().startswith("SELECT") and "FOR UPDATE" not in statement:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def test_metrics_and_topology_report_every_depth(make_bus: BusFactory) -> None:
    bus = await make_bus(many_subscriptions(), start=False)
    await bus.start(consume=False)
    depths = expected_depths(bus)
    await fill(bus, depths)

    await bus.observability.refresh_queue_depths(bus)
    reported = bus.observability.metrics.queue_depths()
    assert {queue: reported.get(queue) for queue in depths} == depths

    topology = await bus.topology()
    assert len(topology["queues"]) == SUBSCRIPTIONS
    for entry in topology["queues"]:
        assert "stats_error" not in entry, entry
        assert entry["messages"] == depths[entry["queue"]], entry
        assert entry["consumers"] == 0


@pytest.mark.parametrize("broker_url", ["sqlite", "postgres"], indirect=True)
async def test_sql_broker_answers_all_queues_in_a_few_statements(make_bus: BusFactory) -> None:
    bus = await make_bus(many_subscriptions(), start=False)
    await bus.start(consume=False)
    await fill(bus, expected_depths(bus))

    with counted_statements(bus) as statements:
        await bus.observability.refresh_queue_depths(bus)
    metric_statements = list(statements)
    with counted_statements(bus) as statements:
        bus.transport.describe()  # the broker-wide summary topology adds, asked once
    describe_statements = list(statements)
    with counted_statements(bus) as statements:
        topology = await bus.topology()
    topology_statements = [s for s in statements if s not in describe_statements]

    # One round trip per queue (three statements each, as before) would be
    # 48 (144) for metrics and 24 (72) for topology.
    assert 1 <= len(metric_statements) <= 3, metric_statements
    assert 1 <= len(topology_statements) <= 3, topology_statements
    assert len(statements) == len(describe_statements) + len(topology_statements)
    assert all(sum(1 for s in statements if "GROUP BY" in s) <= 2
               for statements in (metric_statements, topology_statements))
    assert sum(entry["messages"] for entry in topology["queues"]) == sum(
        index % 4 for index in range(SUBSCRIPTIONS))


async def test_queue_stats_many_names_an_undeclared_queue_and_answers_the_rest(
    make_bus: BusFactory, unique: str
) -> None:
    bus = await make_bus(start=False)
    await bus.start(consume=False)
    transport = bus.transport
    first, second, missing = f"{unique}.a", f"{unique}.b", f"{unique}.missing"
    await transport.declare_queue(QueueSpec(first), bus.settings.exchange)
    await transport.declare_queue(QueueSpec(second), bus.settings.exchange)
    try:
        for n in range(3):
            await transport.send_to_queue(second, OutgoingMessage(
                body=b"{}", routing_key="test.thing.happened.v1", message_id=f"m{n}"))
        answers = await transport.queue_stats_many([first, missing, second])
        assert list(answers) == [first, missing, second]
        assert answers[first] == QueueStats(first, 0, 0)
        assert answers[second] == QueueStats(second, 3, 0)
        assert isinstance(answers[missing], LookupError)
    finally:
        await transport.delete_queue(first)
        await transport.delete_queue(second)
