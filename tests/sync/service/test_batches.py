"""A full run writes the same store whatever its batch size: golden records and the
conflicts in customers are built a batch of customers at a time, xref rows streamed."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bus.db import create_engine
from sync.model import SourceRecord
from sync.service import SyncService
from sync.settings import SyncSettings
from sync.store.records import iter_records, mark_deleted
from sync.store.tables import conflicts, customers, golden, lookup_keys, xref, xref_history
from sync.store.xref import read_xref


def _store(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            "customers": sorted(connection.execute(sa.select(customers.c.global_id)).all()),
            "xref": sorted(connection.execute(
                sa.select(xref.c.system, xref.c.record_id, xref.c.global_id, xref.c.reason)).all()),
            "history": sorted(connection.execute(sa.select(
                xref_history.c.system, xref_history.c.record_id, xref_history.c.global_id,
                xref_history.c.action)).all()),
            "golden": sorted(connection.execute(
                sa.select(golden.c.global_id, golden.c.digest)).all()),
            "keys": sorted(connection.execute(sa.select(lookup_keys)).all()),
            "conflicts": sorted(connection.execute(
                sa.select(conflicts.c.fingerprint, conflicts.c.kind, conflicts.c.global_id)).all()),
        }  # fmt: skip


def _run(directory: Path, database: Path, batch_size: int) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(f"sqlite:///{database}")
    service = SyncService(engine, SyncSettings(batch_size=batch_size))
    service.import_directory(directory)
    outcome = service.run()
    assert outcome.customers > 100
    store = _store(engine)
    engine.dispose()
    return store


def test_a_run_in_small_batches_writes_what_one_batch_writes(
    generated: Path, tmp_path: Path
) -> None:
    one_batch = _run(generated, tmp_path / "one.db", batch_size=100_000)
    small = _run(generated, tmp_path / "small.db", batch_size=100)
    assert len(small["golden"]) == len(small["customers"]) > 100
    assert small["conflicts"], "the generated customers hold some conflicts"
    assert small == one_batch


def test_a_full_run_builds_each_golden_record_from_its_customers_stored_records(
    generated: Path, store_engine: sa.Engine
) -> None:
    """The run reads the source records back from the store for the golden records (it
    never holds them all): each customer's golden record is the one its live records
    make, also after a record is deleted in its system."""
    service = SyncService(store_engine, SyncSettings(batch_size=100))
    service.import_directory(generated)
    service.run()
    with store_engine.begin() as connection:
        gone = connection.execute(
            sa.select(xref.c.system, xref.c.record_id).where(xref.c.system == "billing")
            .order_by(xref.c.record_id).limit(1)).one()  # fmt: skip
        assert mark_deleted(connection, (gone.system, gone.record_id))
    outcome = service.run()
    with store_engine.connect() as connection:
        linked = read_xref(connection)
        held: dict[str, list[SourceRecord]] = defaultdict(list)
        for record in iter_records(connection):
            held[linked[record.key]].append(record)
        stored = dict(connection.execute(sa.select(golden.c.global_id, golden.c.digest)).all())
    expected = {gid: service.golden_of(sorted(records, key=lambda r: r.key), gid).digest
                for gid, records in held.items()}  # fmt: skip
    assert (gone.system, gone.record_id) not in linked
    assert outcome.records == len(linked) == sum(len(records) for records in held.values())
    assert stored == expected
