"""An idle outbox relay keeps out of the way of a long write on the embedded SQLite.

A full synchronizer run writes for minutes in one transaction; the relay polls the
outbox five times a second. Finding the outbox empty is a read, which SQLite's WAL
serves beside a writer: the poll answers at once instead of queueing for the write
lock (30 s of busy timeout, then "database is locked"). Once the writer commits, the
rows it staged are claimed and sent as before.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bus.db import create_engine, create_tables
from bus.delivery.outbox import OutboxRelay, add_to_outbox
from bus.envelope import Envelope
from bus.transport import QueueSpec, transport_for


async def test_an_empty_poll_does_not_wait_for_a_writer_and_the_rows_follow_its_commit(
        tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'esb.db'}")
    create_tables(engine)
    transport = transport_for("memory://outbox-idle")
    await transport.connect()
    await transport.declare_exchange("events")
    await transport.declare_queue(QueueSpec("seen", bindings=["test.#"]), "events")
    relay = OutboxRelay(engine, transport, "events")
    writer = engine.connect()
    transaction = writer.begin()
    add_to_outbox(writer, Envelope(type="test.thing.happened.v1", payload={"n": 1},
                                   source="test"))  # the write lock is held from here

    began = time.monotonic()
    assert await asyncio.wait_for(relay.relay_once(), 5) == 0  # nothing committed yet
    assert time.monotonic() - began < 1.0

    transaction.commit()
    writer.close()
    assert await relay.relay_once() == 1
    assert (await transport.queue_stats("seen")).messages == 1
    assert await relay.relay_once() == 0  # sent rows are gone from the outbox
    await transport.close()
    engine.dispose()
