"""The synchronizer's share of a chaos run: CRM and billing changes, and the fault-free truth.

The input is a directory written by the shared data generator
(``../shared/datagen/generate.py``: customers with noisy CRM and billing records,
then a stream of changes). Every CRM and billing record becomes a
``crm.customer.changed.v1`` / ``billing.account.changed.v1`` event, followed by the
changes in their order; the chaos run publishes them, mixed into its traffic, and
the workers' synchronizer (``sync.changes``, one consumer at a time) applies them
while processes die and the broker restarts.

The reference is the same events applied in the same order to a
:class:`~sync.service.SyncService` on a fresh SQLite file in the test process, with
no bus and no fault at all. The two are compared as *partitions*: which records
are linked together into one customer (the global ids are names handed out in
order; they are compared too and reported, but a different name for the same
group is not a different xref). Each record's ``sync.customer.linked.v1`` events
are compared as well (counted by the chaos work in ``chaos_links``): the chaos run
must link a record exactly as many times as the fault-free run did, never once
more because a change was applied twice.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bus.db import create_engine
from bus.delivery.outbox import outbox
from bus.envelope import Envelope, decode
from sync.canonical import canonical_record, change_of_record, record_of_change
from sync.model import RecordKey
from sync.service import SyncService
from sync.sources import read_changes, read_directory
from sync.store.xref import read_xref
from tests.chaos.chaos_worker import LINKED, LINKS

__all__ = ["SyncTruth", "partition", "reference_xref", "sync_changes",
           "xref_and_links"]

GENERATORS = (Path(__file__).resolve().parents[3] / "shared" / "datagen" / "generate.py",
              Path("/work/shared/datagen/generate.py"))


@dataclass(frozen=True)
class SyncTruth:
    """An xref (record -> global id) and how many times each record was linked."""

    xref: dict[RecordKey, str]
    links: Counter[RecordKey]


def _generator() -> Path:
    for candidate in GENERATORS:
        if candidate.exists():
            return candidate
    raise AssertionError(f"the data generator is not at any of {GENERATORS}")


def sync_changes(directory: Path, customers: int, seed: int) -> list[Envelope]:
    """The CRM and billing records of a generated directory, then its changes, as events."""
    subprocess.run([sys.executable, str(_generator()), "--customers", str(customers),
                    "--seed", str(seed), "--changes", str(max(customers // 5, 10)),
                    "--out", str(directory)], check=True, capture_output=True)
    events: list[Envelope] = []
    for record in read_directory(directory, docflow=False):
        events.append(_event(*change_of_record(canonical_record(record), change="created")))
    for change in read_changes(directory / "changes.jsonl"):
        if change.record.system not in ("crm", "billing"):
            continue
        kind = {"create": "created", "delete": "deleted"}.get(change.op, "updated")
        events.append(_event(*change_of_record(canonical_record(change.record), change=kind)))
    return events


def _event(message_type: str, payload: dict[str, Any]) -> Envelope:
    key = record_of_change(message_type, payload).record.record_id
    return Envelope(type=message_type, payload=payload, source="chaos-sync", key=key)


def reference_xref(events: Iterable[Envelope], directory: Path) -> SyncTruth:
    """What the synchronizer makes of ``events`` with no bus and no fault: applied in
    order, each once, to a fresh SQLite store."""
    engine = create_engine(f"sqlite:///{directory / 'reference-sync.db'}")
    try:
        service = SyncService(engine)
        for event in events:
            service.apply(record_of_change(event.type, event.payload), cause=event,
                          raw=event.payload)
        with engine.connect() as connection:
            xref = read_xref(connection)
            staged = connection.execute(sa.select(outbox.c.routing_key, outbox.c.body))
            links = Counter(_linked_record(body) for routing_key, body in staged
                            if routing_key == LINKED)
        return SyncTruth(xref, links)
    finally:
        engine.dispose()


def _linked_record(body: bytes) -> RecordKey:
    payload: Mapping[str, Any] = decode(body).payload
    return str(payload["record"]["system"]), str(payload["record"]["id"])


def xref_and_links(engine: sa.Engine) -> SyncTruth:
    """The chaos run's xref, and its ``sync.customer.linked.v1`` per record as the chaos
    work counted them (one row per message id: a redelivered event counts once, a
    change applied twice would count twice)."""
    with engine.connect() as connection:
        xref = read_xref(connection)
        rows = connection.execute(sa.select(LINKS.c.system, LINKS.c.record_id))
        links = Counter((str(system), str(record_id)) for system, record_id in rows)
    return SyncTruth(xref, links)


def partition(xref: Mapping[RecordKey, str]) -> set[frozenset[RecordKey]]:
    """The xref as groups of records linked to one customer, whatever its global id."""
    groups: dict[str, set[RecordKey]] = defaultdict(set)
    for key, global_id in xref.items():
        groups[global_id].add(key)
    return {frozenset(group) for group in groups.values()}
