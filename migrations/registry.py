"""Every SQLAlchemy ``MetaData`` the project owns, and which of them migrations manage.

This is the one place a new table's metadata must be added: the Alembic
environment compares the database with :data:`MIGRATED`, ``esb db check``
reports what differs, and ``tests/migrations/test_registry.py`` fails when a
module defines a table that is in neither :data:`MIGRATED` nor
:data:`NOT_MIGRATED`.

All migrated tables live in the bus's database (``ESB_DATABASE_URL``): the
components create them on the bus's engine. Table names are unique across the
metadata objects (a test checks that too), so the schema is one namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import sqlalchemy as sa

# The bus's own tables register on bus.db.METADATA when their modules are imported.
import bus.api.audit
import bus.api.auth_throttle
import bus.delivery.dead_letters
import bus.delivery.idempotency
import bus.delivery.outbox
import bus.delivery.redeliveries
import bus.journal.tables
from adapters.billing import feedstate as billing_feedstate
from adapters.crm.bitrix import ledger as bitrix_ledger
from adapters.docflow import feedstate as docflow_feedstate
from adapters.files import ledger as files_ledger
from adapters.pbx.callstore import tables as callstore_tables
from adapters.pbx.cloud import ingress as cloud_ingress
from adapters.pbx.routing import store as routing_store
from adapters.staging import poller as staging_poller
from bus import db as bus_db
from sync.store import tables as sync_tables

__all__ = ["MIGRATED", "NOT_MIGRATED", "is_migrated_table", "tables"]

_REGISTERED_BY_IMPORT = (bus.api.audit, bus.api.auth_throttle, bus.delivery.dead_letters,
                         bus.delivery.idempotency, bus.delivery.outbox,
                         bus.delivery.redeliveries, bus.journal.tables)
"""Imported for their side effect: their tables are on ``bus.db.METADATA`` only then."""

MIGRATED: Final[tuple[sa.MetaData, ...]] = (
    bus_db.METADATA,                  # journal, processed ids, outbox, redeliveries, DLQ, API
    sync_tables.METADATA,             # the synchronizer: records, xref, golden, conflicts ...
    billing_feedstate.METADATA,       # billing change feed: watermarks, published ledger
    docflow_feedstate.METADATA,       # docflow change feed: watermarks, published ledger
    files_ledger.METADATA,            # files adapter: what was ingested
    staging_poller.METADATA,          # staging adapter: which staging rows were published
    bitrix_ledger.METADATA,           # CRM (Bitrix24): interactions logged as calls
    routing_store.METADATA,           # PBX routing: customers, managers, presence
    callstore_tables.CALLSTORE_METADATA,  # PBX call store (when in the bus's database)
    cloud_ingress.CLOUD_METADATA,     # cloud PBX: calls in flight, notifications seen
)
"""What ``esb db upgrade`` creates and ``esb db check`` compares, in the bus's database."""

NOT_MIGRATED: Final[Mapping[str, str]] = {
    "bus.transport.sql.tables":
        "the embedded broker's storage (esb_broker_*): the transport's own state, like "
        "RabbitMQ's, in the broker's database (ESB_BROKER_URL, often a file of its own); "
        "the transport creates it when it connects",
    "sync.store.records":
        "sync_records_incoming: a temporary table that lives for one import transaction",
    "adapters.staging.client":
        "the legacy system's staging table: its name comes from settings, it lives in "
        "that system's database and belongs to it",
    "adapters.staging.handlers":
        "the outbound table the legacy system reads (ESB_STAGING__OUTBOUND_TABLE): named "
        "by settings, usually in that system's database; created by the adapter at start",
}
"""Modules that define tables migrations leave alone, and why."""


def tables() -> dict[str, sa.Table]:
    """Every migrated table by name."""
    return {name: table for metadata in MIGRATED for name, table in metadata.tables.items()}


def is_migrated_table(name: str | None) -> bool:
    return name is not None and name in _NAMES


_NAMES: Final = frozenset(tables())
