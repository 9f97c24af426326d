"""The synchronizer's tables, in a metadata of their own (the bus's tables stay the bus's).

::

    sync_records        every source record as received: system, record id, version,
                        updated_at, the record (JSON), the raw payload and its normalized form
    sync_customers      global customer ids; a retired id points at the one it merged into
    sync_xref           (system, record id) -> global id, now
    sync_xref_history   who linked what, when and why (append-only)
    sync_golden         the golden record per customer, with where each value came from
    sync_keys           look-up keys of each customer (phone, INN, account number)
    sync_conflicts      what a person must decide: evidence, explanation, state, decision
    sync_conflict_records  the two records of each review-pair conflict, so that a change
                        finds the review conflicts of the records it touched by index
    sync_decisions      must-link / cannot-link pairs, fed back to every later run
    sync_audit          who resolved, merged or split what
    sync_partitions     a partitioned full run: each partition's records and, once a
                        worker matched it, its clusters, links and review pairs
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = [
    "METADATA",
    "audit",
    "conflict_records",
    "conflicts",
    "customers",
    "decisions",
    "golden",
    "json_text",
    "lookup_keys",
    "partitions",
    "records",
    "state",
    "xref",
    "xref_history",
]

METADATA = sa.MetaData()


def json_text(column: sa.Column[Any]) -> sa.Cast[str]:
    """A JSON column read as its text on every database: neither SQLAlchemy nor the
    driver parses it per row (psycopg parses ``json`` itself, with the standard library:
    ~25 µs a record, 20 s of a million-account run's write stage on PostgreSQL); the
    caller, or a worker process, decodes with orjson where it needs the value."""
    return sa.cast(column, sa.Text)

records = sa.Table(
    "sync_records", METADATA,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False, default=1),
    sa.Column("updated_at", sa.String(40)),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("raw", sa.JSON),
    sa.Column("normalized", sa.JSON),
    sa.Column("received_at", sa.Float, nullable=False),
)

customers = sa.Table(
    "sync_customers", METADATA,
    sa.Column("number", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("global_id", sa.String(32), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("retired_into", sa.String(32)),
)

xref = sa.Table(
    "sync_xref", METADATA,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(128), primary_key=True),
    sa.Column("global_id", sa.String(32), nullable=False, index=True),
    sa.Column("linked_at", sa.Float, nullable=False),
    sa.Column("reason", sa.String(256)),
)

xref_history = sa.Table(
    "sync_xref_history", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("global_id", sa.String(32)),
    sa.Column("previous_global_id", sa.String(32)),
    sa.Column("action", sa.String(16), nullable=False),  # linked | moved | unlinked
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.String(256)),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_sync_xref_history_record", "system", "record_id"),
)

golden = sa.Table(
    "sync_golden", METADATA,
    sa.Column("global_id", sa.String(32), primary_key=True),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Column("provenance", sa.JSON, nullable=False),
    sa.Column("digest", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

lookup_keys = sa.Table(
    "sync_keys", METADATA,
    sa.Column("kind", sa.String(16), primary_key=True),  # phone | inn | account
    sa.Column("value", sa.String(128), primary_key=True),
    sa.Column("global_id", sa.String(32), primary_key=True),
    sa.Index("ix_sync_keys_global_id", "global_id"),
    sqlite_with_rowid=False,  # the key is the row: one b-tree less to insert a million into
)

state = sa.Table(
    "sync_state", METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
)

conflicts = sa.Table(
    "sync_conflicts", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(40), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("global_id", sa.String(32), index=True),
    sa.Column("records", sa.JSON, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("score", sa.Float),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, default="open", index=True),
    sa.Column("decision", sa.String(16)),
    sa.Column("decided_by", sa.String(128)),
    sa.Column("decided_at", sa.Float),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
)

conflict_records = sa.Table(
    "sync_conflict_records", METADATA,
    sa.Column("conflict_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(128), primary_key=True),
    sa.Index("ix_sync_conflict_records_record", "system", "record_id"),
)

decisions = sa.Table(
    "sync_decisions", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # must_link | cannot_link
    sa.Column("left_system", sa.String(32), nullable=False),
    sa.Column("left_id", sa.String(128), nullable=False),
    sa.Column("right_system", sa.String(32), nullable=False),
    sa.Column("right_id", sa.String(128), nullable=False),
    sa.Column("conflict_id", sa.Integer),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("at", sa.Float, nullable=False),
)

audit = sa.Table(
    "sync_audit", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(256), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

partitions = sa.Table(
    "sync_partitions", METADATA,
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("members", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON),
    sa.Column("worker", sa.String(256)),
    sa.Column("finished_at", sa.Float),
)
