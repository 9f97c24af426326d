"""The broker's tables, on their own metadata (the bus's tables live in ``bus.db``).

Times are unix seconds as floats, taken from the clock of the process that
writes them, so processes sharing one database need synchronised clocks.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["ACTIVE_CONSUMERS", "BINDINGS", "CONSUMERS", "EXCHANGES", "MESSAGES", "METADATA",
           "QUEUES", "TOPOLOGY"]

METADATA = sa.MetaData()

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""SQLite autoincrements only an ``INTEGER PRIMARY KEY`` (the rowid)."""

TOPOLOGY = sa.Table(
    "esb_broker_topology", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.BigInteger, nullable=False),
)
"""One row whose version every declare and delete bumps: publishers compare it
with their cached bindings in the transaction that inserts, so a queue bound by
another process gets the very next message."""

EXCHANGES = sa.Table(
    "esb_broker_exchanges", METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
)

BINDINGS = sa.Table(
    "esb_broker_bindings", METADATA,
    sa.Column("exchange", sa.String(255), primary_key=True),
    sa.Column("pattern", sa.String(255), primary_key=True),
    sa.Column("queue", sa.String(255), primary_key=True),
)

QUEUES = sa.Table(
    "esb_broker_queues", METADATA,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("dead_letter", sa.Boolean, nullable=False),
    sa.Column("exclusive", sa.Boolean, nullable=False, default=False),
    sa.Column("retry_delays", sa.JSON, nullable=False, default=list),
    sa.Column("created_at", sa.Double, nullable=False),
)

MESSAGES = sa.Table(
    "esb_broker_messages", METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("queue", sa.String(255), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False),
    sa.Column("routing_key", sa.String(255), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("correlation_id", sa.String(255)),
    sa.Column("reply_to", sa.String(255)),
    sa.Column("type", sa.String(255)),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("available_at", sa.Double, nullable=False),
    sa.Column("redelivered", sa.Boolean, nullable=False, default=False),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", sa.Double),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Index("ix_esb_broker_messages_fifo", "queue", "id"),
)

CONSUMERS = sa.Table(
    "esb_broker_consumers", METADATA,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("queue", sa.String(255), nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("heartbeat_at", sa.Double, nullable=False),
)

ACTIVE_CONSUMERS = sa.Table(
    "esb_broker_active_consumers", METADATA,
    sa.Column("queue", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(64)),
    sa.Column("lease_until", sa.Double, nullable=False),
)
"""One row per queue with a single active consumer (its presence marks the queue so):
the consumer whose turn it is, until when. The active consumer renews the lease with
its message leases; another takes the turn when it is free or has lapsed."""
