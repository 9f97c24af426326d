"""Staging many messages in one statement (``add_many_to_outbox``) keeps the outbox's
contract: the rows are the ones staging each would write, in order, and the relay
publishes them after commit, never those of a rolled-back transaction."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bus.delivery.outbox import add_many_to_outbox, add_to_outbox, outbox
from bus.envelope import Envelope
from tests.conftest import collector
from tests.delivery.conftest import BusFactory, eventually

THING = "test.thing.happened.v1"


def things(prefix: str, count: int) -> list[Envelope]:
    return [Envelope(type=THING, payload={"n": f"{prefix}{n}"}, source="test", key=str(n),
                     headers={"x-batch": prefix})
            for n in range(count)]


def _rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            sa.select(outbox.c.message_id, outbox.c.queue, outbox.c.routing_key, outbox.c.body,
                      outbox.c.headers, outbox.c.correlation_id).order_by(outbox.c.id))]


def test_many_staged_at_once_are_the_rows_staged_one_by_one(tmp_path: Path) -> None:
    envelopes = things("a", 25)
    one_by_one = sa.create_engine(f"sqlite:///{tmp_path / 'one.db'}")
    at_once = sa.create_engine(f"sqlite:///{tmp_path / 'many.db'}")
    for engine in (one_by_one, at_once):
        outbox.create(engine)
    with one_by_one.begin() as connection:
        for envelope in envelopes:
            add_to_outbox(connection, envelope)
    with at_once.begin() as connection:
        assert add_many_to_outbox(connection, envelopes) == len(envelopes)
        assert add_many_to_outbox(connection, []) == 0
    staged = _rows(at_once)
    assert [row[0] for row in staged] == [envelope.id for envelope in envelopes]
    assert staged == _rows(one_by_one)


@pytest.mark.asyncio
async def test_the_relay_publishes_a_committed_batch_and_nothing_of_a_rolled_back_one(
    make_bus: BusFactory,
) -> None:
    router, seen = collector(THING)
    bus = await make_bus(router)
    with bus.engine.begin() as connection:
        add_many_to_outbox(connection, things("committed-", 60))
    with pytest.raises(RuntimeError), bus.engine.begin() as connection:
        add_many_to_outbox(connection, things("rolled-back-", 60))
        raise RuntimeError("the caller's own write failed")
    bus.outbox_relay_poke()
    await eventually(lambda: len(seen) >= 60)
    await asyncio.sleep(0.3)
    assert sorted(e.payload["n"] for e in seen) == sorted(f"committed-{n}" for n in range(60))
    assert {e.headers.get("x-batch") for e in seen} == {"committed-"}
