"""A full run writes the same store whatever its batch size: golden records and the
conflicts in customers are built a batch of customers at a time, xref rows streamed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bus.db import create_engine
from sync.service import SyncService
from sync.settings import SyncSettings
from sync.store.tables import conflicts, customers, golden, lookup_keys, xref, xref_history


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
