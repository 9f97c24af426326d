"""The full run over the store: the rows its worker processes decode give the engine's
answer on the records themselves, and a one-shot run that lets the engine go leaves the
store as a run that keeps it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa

from bus.db import create_engine
from sync.canonical import RecordChange, canonical_record
from sync.fullrun import STORED, match_stored
from sync.match import MatchSettings, reconcile
from sync.match.blocking import block_keys
from sync.match.parallel import Normalizer
from sync.model import Decisions, Reconciliation, RecordKey
from sync.normalize import normalize_record
from sync.service import SyncService
from sync.sources import read_changes, read_directory
from sync.store.records import decode_record, iter_stored
from tests.sync.service.helpers import customers_in_xref


def _partition(clusters: dict[RecordKey, int]) -> set[frozenset[RecordKey]]:
    groups: dict[int, set[RecordKey]] = defaultdict(set)
    for key, label in clusters.items():
        groups[label].add(key)
    return {frozenset(group) for group in groups.values()}


def _pairs(result: Reconciliation) -> tuple[set[tuple[RecordKey, RecordKey]], set[str]]:
    links = {(link.left, link.right) for link in result.links}
    review = {f"{p.evidence.left}{p.evidence.right}{p.reason}" for p in result.review}
    return links, review


def test_stored_rows_decoded_by_the_workers_match_as_the_records_do(
    generated: Path, store_engine: sa.Engine
) -> None:
    records = [canonical_record(r) for r in read_directory(generated)]
    SyncService(store_engine).import_records(records)
    expected = reconcile(records, MatchSettings(workers=1))

    # the rows decoded in this process (a batch too small for the pool: the pool's
    # decoding is checked batch by batch below)
    stored = match_stored(store_engine, MatchSettings(), Decisions()).result()

    assert len(stored.clusters) == len(records)
    assert _partition(stored.clusters) == _partition(expected.clusters)
    assert _pairs(stored) == _pairs(expected)
    assert len(_partition(stored.clusters)) < len(records)  # records were linked


def test_worker_processes_decode_the_rows_as_the_driver_read_them(
    generated: Path, store_engine: sa.Engine
) -> None:
    SyncService(store_engine).import_records(read_directory(generated))
    with store_engine.connect() as connection:
        rows = list(iter_stored(connection))
    batch = (rows * (1000 // len(rows) + 1))[:1000]  # a batch large enough for the pool
    with Normalizer(workers=2) as normalizer:
        [part] = list(normalizer.stream([batch], STORED))

    here = [normalize_record(decode_record(row)) for row in batch]
    assert [replace(n, display_name="") for n in here] == part.normalized
    assert list(part.counts) == [len(block_keys(n)) for n in here]
    assert list(part.keys) == [key for n in here for key in block_keys(n)]


def test_a_run_that_lets_the_engine_go_then_a_change_leave_what_a_kept_engine_leaves(
    generated: Path, tmp_path: Path
) -> None:
    records = list(read_directory(generated))
    changes = [RecordChange(c.record, c.op == "delete")
               for c in read_changes(generated / "changes.jsonl")][:5]  # fmt: skip
    moved = replace(changes[0].record, name="Someone Else Entirely")
    stores = {}
    for keep in (True, False):
        engine = create_engine(f"sqlite:///{tmp_path / f'keep-{keep}.db'}")
        service = SyncService(engine)
        service.import_records(records)
        outcome = service.run(keep_engine=keep)
        assert outcome.records == len(records)
        for change in [*changes, RecordChange(moved, False)]:
            service.apply(change)  # without a kept engine, the first change rebuilds it
        stores[keep] = customers_in_xref(engine)
        engine.dispose()
    assert stores[True] == stores[False]
    assert any(moved.key in group for group in stores[False])
