"""The journal's tables, registered on :data:`bus.db.METADATA`.

``esb_journal_messages``  one row per message id, written the first time it is seen;
``esb_journal_events``    one row per hop: published, delivered, processed, retried …;
``esb_journal_keys``      business keys of a message (phone, account, customer id,
                          INN hash) for searching by what a person knows.

No foreign keys: events of a message published by another process (or before
the journal was on) are kept even when its message row is missing.
Times are stored in UTC (SQLite keeps them as naive UTC text).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from bus.db import METADATA

__all__ = [
    "EVENTS",
    "KEYS",
    "MESSAGES",
    "STATUSES",
    "Status",
    "as_utc",
]

Status = Literal[
    "published", "delivered", "processed", "retried", "dead_lettered", "replayed", "rejected",
    "duplicate", "expired",
]
STATUSES: Final = frozenset(
    ("published", "delivered", "processed", "retried", "dead_lettered", "replayed", "rejected",
     "duplicate", "expired")
)

ID_LENGTH = 255
KEY_VALUE_LENGTH = 128

MESSAGES = sa.Table(
    "esb_journal_messages",
    METADATA,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("correlation_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("causation_id", sa.String(ID_LENGTH)),
    sa.Column("key", sa.String(200)),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("payload", sa.JSON().with_variant(JSONB(), "postgresql")),
    sa.Index("ix_esb_journal_messages_time", "occurred_at", "id"),
    sa.Index("ix_esb_journal_messages_type", "type", "occurred_at"),
    sa.Index("ix_esb_journal_messages_correlation", "correlation_id"),
)

EVENTS = sa.Table(
    "esb_journal_events",
    METADATA,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("message_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("subscriber", sa.String(255)),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("trace_id", sa.String(32)),
    sa.Index("ix_esb_journal_events_message", "message_id"),
    sa.Index("ix_esb_journal_events_status", "status", "at"),
)

KEYS = sa.Table(
    "esb_journal_keys",
    METADATA,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(KEY_VALUE_LENGTH), primary_key=True),
    sa.Column("message_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Index("ix_esb_journal_keys_value", "value"),
    sa.Index("ix_esb_journal_keys_message", "message_id"),
)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC: naive values (as SQLite returns them) are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
