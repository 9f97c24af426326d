"""A large full run builds its golden records and in-customer conflicts in worker
processes while it inserts: what it stores and stages is, byte for byte, what building
them in-process stores and stages, on a first run and on a rerun that moves, merges and
splits customers; and a worker's failure leaves nothing of the run behind."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bus.delivery.outbox import outbox
from bus.envelope import decode
from sync.canonical import canonical_record
from sync.service import SyncService
from sync.settings import SyncSettings
from sync.sources import read_changes, read_directory
from sync.store.records import mark_deleted
from sync.store.tables import METADATA, conflicts, golden, lookup_keys, records, xref

IN_PROCESS = SyncSettings(batch_size=100, match={"workers": 1})
POOLED = SyncSettings(batch_size=100, match={"workers": 2, "parallel_from": 1})
"""Every run large enough for the workers, a hundred customers a batch: several batches
in flight at once."""


def _snapshot(engine: sa.Engine) -> dict[str, Any]:
    """What a run leaves: golden records, look-up keys, xref, conflicts and the staged
    events' payloads (times left out: they are the clock's)."""
    with engine.connect() as c:
        kept = [col for col in conflicts.c if not isinstance(col.type, sa.Float)
                or col.name == "score"]  # fmt: skip
        bodies = c.execute(sa.select(outbox.c.body).order_by(outbox.c.id)).scalars()
        return {
            "golden": c.execute(sa.select(golden.c.global_id, golden.c["values"],
                                          golden.c.provenance, golden.c.digest)
                                .order_by(golden.c.global_id)).all(),
            "keys": sorted(c.execute(sa.select(lookup_keys)).all()),
            "xref": sorted(c.execute(sa.select(xref.c.system, xref.c.record_id,
                                               xref.c.global_id)).all()),
            "conflicts": c.execute(sa.select(*kept).order_by(conflicts.c.id)).all(),
            "events": [(e.type, e.key, dict(e.payload)) for e in map(decode, bodies)],
        }  # fmt: skip


def _first_run_and_rerun(engine: sa.Engine, settings: SyncSettings, generated: Path
                         ) -> list[dict[str, Any]]:  # fmt: skip
    """A first run, then the generator's changes and billing accounts that took other
    customers' identities (records move, customers merge and split), and a rerun."""
    service = SyncService(engine, settings)
    service.import_directory(generated)
    first = service.run()
    snapshots = [_snapshot(engine)]
    every = [canonical_record(r) for r in read_directory(generated)]
    cards = [r for r in every if r.system == "crm"]
    pick = random.Random(3)
    taken = [replace(account, name=card.name, birth_date=card.birth_date, inn=card.inn,
                     passport=card.passport, phones=card.phones)
             for account, card in zip(pick.sample([r for r in every if r.system == "billing"],
                                                  40), pick.sample(cards, 40), strict=True)]
    changes = list(read_changes(generated / "changes.jsonl"))
    service.import_records([c.record for c in changes if c.op != "delete"] + taken)
    with engine.begin() as connection:
        for change in changes:
            if change.op == "delete":
                mark_deleted(connection, canonical_record(change.record).key)
    again = service.run()
    snapshots.append(_snapshot(engine))
    assert first.golden_changed > 100 and first.conflicts > 0
    assert again.merged and again.split and again.golden_changed
    return snapshots


def test_golden_records_built_by_workers_are_the_ones_built_in_process(
    generated: Path, store_engine: sa.Engine
) -> None:
    expected = _first_run_and_rerun(store_engine, IN_PROCESS, generated)
    _empty(store_engine)

    got = _first_run_and_rerun(store_engine, POOLED, generated)

    for run, (ours, theirs) in enumerate(zip(got, expected, strict=True)):
        for part in ours:
            assert ours[part] == theirs[part], (run, part)
    assert any(t == "sync.customer.merged.v1" for t, _key, _payload in got[1]["events"])


def _empty(engine: sa.Engine) -> None:
    """The database as it was before the synchronizer (ids start again from one)."""
    METADATA.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(outbox.delete())


def test_a_worker_that_fails_leaves_nothing_of_the_run(
    generated: Path, store_engine: sa.Engine
) -> None:
    service = SyncService(store_engine, POOLED)
    service.import_directory(generated)
    with store_engine.begin() as connection:  # facts a worker cannot read: it fails
        connection.execute(records.update().where(records.c.system == "crm")
                           .values(normalized={"kind": "person"}))

    with pytest.raises(KeyError):
        service.run()

    with store_engine.connect() as connection:
        for table in (xref, golden, lookup_keys, conflicts, outbox):
            assert connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
