"""Changes applied one by one through the service leave the xref a full run from
scratch gives on the same records: every customer the changes could touch is rewritten,
documents that follow an account or an INN included; and what a change costs the store
does not grow with the directory."""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bus.db import create_engine
from sync.canonical import RecordChange
from sync.model import RecordKey, SourceRecord
from sync.service import SyncService
from sync.sources import read_changes, read_directory
from tests.sync.service.helpers import customers_in_xref

GENERATOR = Path(__file__).resolve().parents[3].parent / "shared" / "datagen" / "generate.py"


def _changes(generated: Path, records: dict[RecordKey, SourceRecord]) -> list[RecordChange]:
    """changes.jsonl, then a document re-filed under another account, an account
    closed under its documents, and one closed and opened again (its documents,
    customers of their own meanwhile, must come back to it)."""
    changes = [RecordChange(c.record, c.op == "delete")
               for c in read_changes(generated / "changes.jsonl")]  # fmt: skip
    docs = [r for r in records.values() if r.system == "docflow" and r.attributes.get("account_no")]
    refiled = replace(
        docs[0], attributes={**docs[0].attributes, "account_no": docs[-1].attributes["account_no"]}
    )
    closed = records[("billing", docs[len(docs) // 2].attributes["account_no"])]
    reopened = records[("billing", docs[len(docs) // 3].attributes["account_no"])]
    assert closed != reopened
    return [*changes, RecordChange(refiled, False), RecordChange(closed, True),
            RecordChange(reopened, True), RecordChange(reopened, False)]  # fmt: skip


def test_changes_one_by_one_leave_the_xref_of_a_full_run(generated: Path, tmp_path: Path) -> None:
    records = {r.key: r for r in read_directory(generated)}
    live = create_engine(f"sqlite:///{tmp_path / 'live.db'}")
    service = SyncService(live)
    service.import_records(records.values())
    service.run()
    before = customers_in_xref(live)
    for change in _changes(generated, records):
        service.apply(change)
        if change.deleted:
            del records[change.key]
        else:
            records[change.key] = change.record
    after = customers_in_xref(live)
    assert after != before  # the changes moved records between customers

    scratch = create_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    fresh = SyncService(scratch)
    fresh.import_records(records.values())
    fresh.run()
    assert after == customers_in_xref(scratch)
    live.dispose()
    scratch.dispose()


class _SqliteSteps:
    """A counter of the SQLite virtual machine's steps (tens; SQLite counts each
    statement apart) on an engine's connections: the store's work, whatever else the
    machine is doing."""

    def __init__(self, engine: sa.Engine) -> None:
        self.tens = 0
        self._listener = self._watch  # the event registry holds it weakly
        sa.event.listen(engine, "connect", self._listener)

    def _count(self) -> int:
        self.tens += 1
        return 0

    def _watch(self, dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_progress_handler(self._count, 10)


def _median_change_steps(directory: Path, tmp: Path) -> float:
    url = f"sqlite:///{tmp / 'steps.db'}"
    loading = create_engine(url)
    SyncService(loading).import_directory(directory)
    SyncService(loading).run()
    loading.dispose()
    engine = create_engine(url)  # counted from here on
    steps = _SqliteSteps(engine)
    service = SyncService(engine)
    changes = [RecordChange(c.record, c.op == "delete")
               for c in read_changes(directory / "changes.jsonl")]  # fmt: skip
    service.apply(changes[0])  # reads the whole store once, into the engine
    counts = []
    for change in changes[1:13]:
        before = steps.tens
        service.apply(change)
        counts.append(steps.tens - before)
    engine.dispose()
    return statistics.median(counts)


def test_a_change_costs_the_store_the_same_in_a_directory_ten_times_larger(
    generated: Path, tmp_path: Path
) -> None:
    if not GENERATOR.exists():
        pytest.skip("../shared/datagen is not beside the project")
    larger = tmp_path / "larger"
    subprocess.run([sys.executable, str(GENERATOR), "--customers", "3000", "--seed", "11",
                    "--changes", "40", "--out", str(larger)],
                   check=True, capture_output=True)  # fmt: skip
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    small = _median_change_steps(generated, tmp_path / "small")
    large = _median_change_steps(larger, tmp_path / "large")
    assert small > 0
    assert large < 2.5 * small, (small, large)  # a walk over the records would be ~10x
