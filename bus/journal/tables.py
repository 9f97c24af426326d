"""The journal's tables, registered on :data:`bus.db.METADATA`.

``esb_journal_messages``  one row per message id, written the first time it is seen;
``esb_journal_events``    one row per hop: published, delivered, processed, retried …;
``esb_journal_keys``      business keys of a message (phone, account, customer id,
                          INN hash) for searching by what a person knows.

No foreign keys: events of a message published by another process (or before
the journal was on) are kept even when its message row is missing.

Times are stored as float Unix seconds (UTC, exact to the microsecond for
this and the next two centuries) and payloads as JSON text (``jsonb`` on
PostgreSQL): the writer passes both straight to the driver, with no
per-row conversion. Through SQLAlchemy (the query side) the time columns
take and return aware UTC datetimes, the payload column Python objects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from bus.db import METADATA

__all__ = [
    "EVENTS",
    "KEYS",
    "MESSAGES",
    "STATUSES",
    "JsonText",
    "Status",
    "UnixTime",
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


class UnixTime(sa.TypeDecorator[datetime]):
    """A moment stored as float Unix seconds; aware UTC datetimes in and out of SQLAlchemy."""

    impl = sa.Double
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> float | None:
        if value is None or isinstance(value, float | int):
            return value
        return as_utc(value).timestamp()

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, float | int):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):  # a row of the old layout (SQLite: DATETIME as text)
            return as_utc(datetime.fromisoformat(value))
        return as_utc(value)


class JsonText(sa.TypeDecorator[Any]):
    """JSON kept as the text the writer serialized (``jsonb`` on PostgreSQL); objects when read."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value


MESSAGES = sa.Table(
    "esb_journal_messages",
    METADATA,
    sa.Column("id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("correlation_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("causation_id", sa.String(ID_LENGTH)),
    sa.Column("key", sa.String(200)),
    sa.Column("occurred_at", UnixTime(), nullable=False),
    sa.Column("first_seen_at", UnixTime(), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("payload", JsonText().with_variant(JSONB(), "postgresql")),
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
    sa.Column("at", UnixTime(), nullable=False),
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

MESSAGE_COLUMNS: Final = (
    "id", "type", "source", "correlation_id", "causation_id", "key", "occurred_at",
    "first_seen_at", "size", "payload",
)
"""The order of a message row's values (see :mod:`bus.journal.rows`)."""
EVENT_COLUMNS: Final = (
    "message_id", "status", "subscriber", "attempt", "latency_ms", "at", "detail", "trace_id",
)
"""The order of an event row's values: also the order of a recorded hop."""
KEY_COLUMNS: Final = ("name", "value", "message_id")


def as_utc(moment: datetime) -> datetime:
    """Aware UTC: naive values (as SQLite returns them) are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
