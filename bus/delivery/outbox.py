"""The transactional outbox: write to the database and publish, both or neither.

An adapter adds messages to the outbox inside its own database transaction
(:func:`add_to_outbox`); the :class:`OutboxRelay` running in the bus publishes
committed rows with confirms and then deletes them. A crash between the two
republishes with the same message id, which idempotent consumers absorb.
DLQ replays travel the same way, addressed to one queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import sqlalchemy as sa

from bus.db import METADATA
from bus.envelope import Envelope, encode
from bus.transport import OutgoingMessage, Transport

__all__ = ["OutboxRelay", "add_many_to_outbox", "add_to_outbox", "outbox", "stage_message"]

log = logging.getLogger(__name__)

outbox = sa.Table(
    "esb_outbox",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("queue", sa.String(200)),
    sa.Column("routing_key", sa.String(200), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("correlation_id", sa.String(64)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("claimed_until", sa.Float),
)

CLAIM_SECONDS = 30.0
"""A relay that claimed rows and died leaves them to another relay after this long."""


def add_to_outbox(
    connection: sa.Connection,
    envelope: Envelope,
    *,
    queue: str | None = None,
    headers: Mapping[str, Any] | None = None,
) -> None:
    """Stage ``envelope`` in the caller's transaction; the relay publishes it after commit.

    With ``queue`` it goes to that queue only (a replay), else to the events exchange.
    """
    stage_message(connection, envelope.id, envelope.type, encode(envelope), queue,
           {**envelope.headers, **(headers or {})}, envelope.correlation_id)


def add_many_to_outbox(connection: sa.Connection, envelopes: Iterable[Envelope]) -> int:
    """Stage many envelopes (to the events exchange) in one statement, in order, as
    :func:`add_to_outbox` stages each; returns how many."""
    now = time.time()
    rows = [(envelope.id, None, envelope.type, encode(envelope),
             orjson.dumps(dict(envelope.headers)).decode(), envelope.correlation_id, now)
            for envelope in envelopes]
    if not rows:
        return 0
    # straight through the driver (a first reconciliation stages a hundred thousand)
    compiled = outbox.insert().compile(dialect=connection.dialect, column_keys=_STAGED)
    order = compiled.positiontup
    params: list[Any] = (
        [tuple(row[_STAGED.index(name)] for name in order) for row in rows]
        if compiled.positional and order is not None
        else [dict(zip(_STAGED, row, strict=True)) for row in rows])
    connection.exec_driver_sql(str(compiled), params)
    return len(rows)


_STAGED = ["message_id", "queue", "routing_key", "body", "headers", "correlation_id",
           "created_at"]


def stage_message(
    connection: sa.Connection, message_id: str, routing_key: str, body: bytes,
    queue: str | None, headers: Mapping[str, Any], correlation_id: str | None,
) -> None:
    connection.execute(
        outbox.insert().values(
            message_id=message_id, queue=queue,
            routing_key=routing_key, body=body, headers=dict(headers),
            correlation_id=correlation_id, created_at=time.time(),
        )
    )


def _unclaimed(now: float | sa.BindParameter[float]) -> sa.ColumnElement[bool]:
    """Rows no relay holds at ``now``: never claimed, or their claim has run out."""
    return sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)


_ANY_FREE = sa.select(outbox.c.id).where(_unclaimed(sa.bindparam("now"))).limit(1)
"""One row no relay holds, if any (built once: the relay asks five times a second)."""


class OutboxRelay:
    """Publishes committed outbox rows, oldest first, in confirmed batches."""

    def __init__(
        self, engine: sa.Engine, transport: Transport, exchange: str,
        *, batch_size: int = 500, poll_interval: float = 0.2,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.exchange = exchange
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-relay")

    def poke(self) -> None:
        """Something was just committed: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.relay_once()
            except self.transport.connection_errors as lost:
                log.warning("outbox relay: broker unavailable (%s); will retry", lost)
                sent = 0
                await asyncio.sleep(1.0)
            if sent < self.batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def relay_once(self) -> int:
        """Publish one batch of pending rows; returns how many were sent."""
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        to_exchange = [self._message(row) for row in rows if row.queue is None]
        if to_exchange:
            await self.transport.publish_many(self.exchange, to_exchange)
        for row in rows:
            if row.queue is not None:
                await self.transport.send_to_queue(row.queue, self._message(row))
        await asyncio.to_thread(self._mark_sent, [row.id for row in rows])
        return len(rows)

    def _pending(self) -> list[sa.Row[Any]]:
        """Claim a batch: two relays (two processes, or the CLI) never send one row twice.

        An empty outbox (what nearly every poll finds) is seen by a read alone: no write
        transaction, so SQLite's write lock is not taken five times a second per process."""
        now = time.time()
        free = _unclaimed(now)
        with self.engine.connect() as connection:
            if connection.execute(_ANY_FREE, {"now": now}).first() is None:
                return []
        oldest = sa.select(outbox.c.id).where(free).order_by(outbox.c.id).limit(self.batch_size)
        claim = (
            outbox.update()
            .where(outbox.c.id.in_(oldest.scalar_subquery()), free)
            .values(claimed_until=now + CLAIM_SECONDS)
            .returning(*outbox.c)
        )
        with self.engine.begin() as connection:
            return sorted(connection.execute(claim), key=lambda row: row.id)

    def _mark_sent(self, ids: list[int]) -> None:
        with self.engine.begin() as connection:
            connection.execute(outbox.delete().where(outbox.c.id.in_(ids)))

    @staticmethod
    def _message(row: sa.Row[Any]) -> OutgoingMessage:
        headers = row.headers if isinstance(row.headers, dict) else orjson.loads(row.headers)
        return OutgoingMessage(
            body=row.body, routing_key=row.routing_key, message_id=row.message_id,
            headers=headers, correlation_id=row.correlation_id, type=row.routing_key,
        )
