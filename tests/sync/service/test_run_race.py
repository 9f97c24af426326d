"""A full run writes its answer only onto the store it read: when another writer commits
while the run matches (here, a change deletes the records of a customer the run is about
to merge others into), the run writes nothing and says why, instead of failing half-way
(a merge's golden record missing: KeyError) or linking records that are gone."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bus.delivery.outbox import outbox
from sync.canonical import RecordChange, canonical_record
from sync.fullrun import Matched, StoreChanged, finish_run, load_state, match_stored
from sync.model import SourceRecord
from sync.service import SyncService
from sync.settings import SyncSettings
from sync.sources import read_directory
from sync.store.identity import assign_ids
from sync.store.records import load_records
from sync.store.xref import read_xref


def _reconciled(generated: Path, store_engine: sa.Engine, **settings: Any
                ) -> tuple[SyncService, list[SourceRecord]]:  # fmt: skip
    """A service (one worker) whose store holds the directory, reconciled once; its records."""
    service = SyncService(store_engine, SyncSettings(match={"workers": 1}, **settings))
    service.import_directory(generated)
    service.run()
    return service, [canonical_record(r) for r in read_directory(generated)]


def test_a_run_whose_store_changed_while_it_matched_writes_nothing(
    generated: Path, store_engine: sa.Engine
) -> None:
    service, every = _reconciled(generated, store_engine)
    pick = random.Random(3)
    accounts = pick.sample([r for r in every if r.system == "billing"], 40)
    cards = pick.sample([r for r in every if r.system == "crm"], 40)
    service.import_records([
        replace(account, name=card.name, birth_date=card.birth_date, inn=card.inn,
                passport=card.passport, phones=card.phones)
        for account, card in zip(accounts, cards, strict=True)])  # fmt: skip

    loaded = load_state(store_engine, with_records=False)
    matched = Matched.of(match_stored(store_engine, service.match_settings, loaded.decisions)
                         .result())  # fmt: skip
    numbers = itertools.count(10**8)
    merges = assign_ids(matched.groups, loaded.previous, lambda: f"G{next(numbers):09d}")
    survivor = merges.merges[0].global_id  # the run will merge customers into this one
    another = SyncService(store_engine, service.settings)  # meanwhile, another writer
    with store_engine.connect() as connection:
        gone = load_records(connection, merges.members[survivor])
    for record in gone:
        another.apply(RecordChange(record, True))
    with store_engine.connect() as connection:
        xref_before = read_xref(connection)
        staged_before = connection.execute(sa.select(sa.func.count()).select_from(outbox)).scalar()

    with pytest.raises(StoreChanged):
        finish_run(service._writer, store_engine, loaded, matched, actor="sync", began=0.0,
                   publish_initial=False)  # fmt: skip

    with store_engine.connect() as connection:
        assert read_xref(connection) == xref_before
        assert connection.execute(
            sa.select(sa.func.count()).select_from(outbox)).scalar() == staged_before
    assert service.run().records == len(every) - len(gone)  # run again: it goes through


def _another_writer_on_first_load(store_engine: sa.Engine, service: SyncService,
                                  record: SourceRecord) -> Callable[[str, int], None]:
    """A progress callback that, when the run has read its state the first time, has
    another service (another process, as far as the store can tell) commit a change."""
    loads = 0

    def progress(phase: str, _count: int) -> None:
        nonlocal loads
        if phase == "load":
            loads += 1
            if loads == 1:
                SyncService(store_engine, service.settings).apply(RecordChange(record, True))

    return progress


def test_a_run_whose_store_changed_matches_again_and_writes_the_store_as_it_is(
    generated: Path, store_engine: sa.Engine
) -> None:
    service, every = _reconciled(generated, store_engine)
    deleted = every[0]
    phases: list[str] = []
    changes = _another_writer_on_first_load(store_engine, service, deleted)

    def progress(phase: str, count: int) -> None:
        phases.append(phase)
        changes(phase, count)

    outcome = service.run(progress=progress)

    assert phases == ["load", "match", "load", "match", "persist"]  # the first wrote nothing
    assert outcome.records == len(every) - 1
    with store_engine.connect() as connection:
        assert deleted.key not in read_xref(connection)


def test_a_run_out_of_attempts_says_the_store_changed_and_writes_nothing(
    generated: Path, store_engine: sa.Engine
) -> None:
    service, every = _reconciled(generated, store_engine, run_attempts=1)
    with store_engine.connect() as connection:
        xref_before = read_xref(connection)

    with pytest.raises(StoreChanged, match="while the run matched: nothing was written"):
        service.run(progress=_another_writer_on_first_load(store_engine, service, every[0]))

    with store_engine.connect() as connection:
        after = read_xref(connection)
    assert every[0].key not in after  # the change's own commit unlinked it
    assert {k: g for k, g in xref_before.items() if k != every[0].key} == after
