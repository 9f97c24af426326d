"""The call store's tables: one row per ended call (and its record), one per extension in it.

Hour and weekday are stored in the analytics time zone when the call is recorded,
so "calls per hour" is a plain ``GROUP BY`` on SQLite and PostgreSQL alike.
Flags are small integers (0/1) so ``SUM`` works the same on both.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["CALLSTORE_METADATA", "call_participants", "call_records", "calls"]

CALLSTORE_METADATA = sa.MetaData()

calls = sa.Table(
    "pbx_calls",
    CALLSTORE_METADATA,
    sa.Column("linkedid", sa.String(128), primary_key=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("disposition", sa.String(16), nullable=False),
    sa.Column("queue", sa.String(256)),
    sa.Column("answered_by", sa.String(16)),
    sa.Column("caller_e164", sa.String(20)),
    sa.Column("called_e164", sa.String(20)),
    sa.Column("started_us", sa.BigInteger, nullable=False),
    sa.Column("local_hour", sa.SmallInteger, nullable=False),
    sa.Column("local_weekday", sa.SmallInteger, nullable=False, comment="ISO: 1 Monday .. 7"),
    sa.Column("ring_targets", sa.SmallInteger, nullable=False),
    sa.Column("ring_seconds", sa.Integer, nullable=False),
    sa.Column("talk_seconds", sa.Integer, nullable=False),
    sa.Index("ix_pbx_calls_started", "started_us"),
    sa.Index("ix_pbx_calls_caller", "caller_e164", "started_us"),
    sa.Index("ix_pbx_calls_called", "called_e164", "started_us"),
    sa.Index("ix_pbx_calls_queue", "queue", "started_us"),
)

call_records = sa.Table(
    "pbx_call_records",
    CALLSTORE_METADATA,
    sa.Column("linkedid", sa.String(128), sa.ForeignKey("pbx_calls.linkedid"),
              primary_key=True),
    sa.Column("record", sa.JSON, nullable=False, comment="the pbx.call.ended.v1 payload"),
)
"""The published record, apart: the analytics scan only the narrow ``pbx_calls`` rows."""

call_participants = sa.Table(  # the call's figures repeated: per-agent sums need no join
    "pbx_call_participants",
    CALLSTORE_METADATA,
    sa.Column("linkedid", sa.String(128), sa.ForeignKey("pbx_calls.linkedid"),
              primary_key=True),
    sa.Column("extension", sa.String(16), primary_key=True),
    sa.Column("started_us", sa.BigInteger, nullable=False),
    sa.Column("queue", sa.String(256)),
    sa.Column("rang", sa.SmallInteger, nullable=False),
    sa.Column("answered", sa.SmallInteger, nullable=False),
    sa.Column("missed", sa.SmallInteger, nullable=False,
              comment="rang on this extension and nobody answered the call"),
    sa.Column("placed", sa.SmallInteger, nullable=False),
    sa.Column("ring_seconds", sa.Integer, nullable=False),
    sa.Column("talk_seconds", sa.Integer, nullable=False),
    sa.Index("ix_pbx_call_participants_extension", "extension", "started_us"),
    sa.Index("ix_pbx_call_participants_started", "started_us"),
)
