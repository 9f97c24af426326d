"""Full reconciliation, stable ids, conflicts and people's decisions, one change at a time."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bus.schema import default_registry
from sync.canonical import RecordChange
from sync.conflicts import Conflict
from sync.lookup import answer
from sync.model import SourceRecord
from sync.service import SyncService
from sync.sources import read_changes
from sync.store.queue import StoredConflict, list_conflicts, raise_conflicts
from sync.store.xref import read_xref
from tests.sync.service.helpers import score, staged, truth_of


def test_full_run_links_records_like_the_truth_and_keeps_ids_across_runs(
        store_engine: sa.Engine, generated: Path) -> None:
    service = SyncService(store_engine)
    counts = service.import_directory(generated)
    first = service.run()
    with store_engine.connect() as connection:
        before = read_xref(connection)
    again = service.run()
    with store_engine.connect() as connection:
        after = read_xref(connection)
    figures = score(store_engine, truth_of(generated))
    assert first.records == sum(counts.values()) == len(before)
    assert figures.precision >= 0.99 and figures.recall >= 0.99, figures.to_json()
    assert after == before
    assert (again.new_customers, again.moved, again.golden_changed, again.events) == (0, 0, 0, 0)
    # a first load stays quiet: no linked event per record, only what needs a person
    assert {e.type for e in staged(store_engine)} <= {"sync.conflict.raised.v1"}


def _open(service: SyncService, kind: str) -> StoredConflict:
    with service.engine.connect() as connection:
        return list_conflicts(connection, kind=kind)[0]


def test_splitting_crm_duplicates_is_kept_by_every_later_run(
        sqlite_service: SyncService, generated: Path) -> None:
    service = sqlite_service
    service.import_directory(generated, docflow=False)
    service.run()
    duplicate = _open(service, "crm_duplicate")
    left, right = duplicate.conflict.records[:2]
    outcome = service.resolve(duplicate.conflict_id, "split", actor="operator.petrova",
                              note="two different people")
    service.run()
    with service.engine.connect() as connection:
        owner = read_xref(connection)
        reopened = [c for c in list_conflicts(connection, state="open")
                    if c.conflict.fingerprint == duplicate.conflict.fingerprint]
    assert owner[left] != owner[right]
    assert outcome.split == 1 and not reopened
    split = staged(service.engine, "sync.customer.split.v1")
    assert split[-1].payload["decided_by"] == "operator.petrova"
    assert {part["golden_id"] for part in split[-1].payload["parts"]} == {owner[left],
                                                                          owner[right]}


def test_merging_a_review_pair_links_records_the_evidence_keeps_apart(
        sqlite_service: SyncService) -> None:
    service = sqlite_service
    ivanov = SourceRecord(system="crm", record_id="CRM-1", kind="person",
                          name="Иванов Иван Иванович", phones=("+79120000001",))
    petrov = SourceRecord(system="billing", record_id="LS-1", name="Петров Пётр Петрович",
                          phones=("+79120000002",))
    service.import_records([ivanov, petrov])
    service.run()
    with service.engine.begin() as connection:
        stored = raise_conflicts(connection, [Conflict(
            "review_pair", (ivanov.key, petrov.key), "a clerk says they are one person")])[0]
    service.resolve(stored.conflict_id, "merge", actor="operator.petrova")
    service.run()
    with service.engine.connect() as connection:
        owner = read_xref(connection)
    assert owner[ivanov.key] == owner[petrov.key]
    merged = staged(service.engine, "sync.customer.merged.v1")
    assert merged and merged[-1].payload["golden_id"] == owner[ivanov.key]


def test_a_single_change_is_reconciled_in_under_a_second(
        sqlite_service: SyncService, generated: Path) -> None:
    service = sqlite_service
    service.import_directory(generated)
    service.run()
    service.apply(RecordChange(SourceRecord(system="crm", record_id="warm-up"), False))
    timings = []
    for change in list(read_changes(generated / "changes.jsonl"))[:10]:
        began = time.perf_counter()
        service.apply(RecordChange(change.record, change.op == "delete"))
        timings.append(time.perf_counter() - began)
    assert max(timings) < 1.0, timings
    events = staged(service.engine)
    registry = default_registry()
    assert events, "changes publish what they changed"
    for event in events:
        registry.validate(event.type, dict(event.payload))


def test_a_customer_is_found_by_every_key_and_the_reply_is_canonical(
        store_engine: sa.Engine, generated: Path) -> None:
    service = SyncService(store_engine)
    service.import_directory(generated)
    service.run()
    with service.engine.connect() as connection:
        by_record = answer(connection, {"record": {"system": "crm", "id": "CRM-0000001"}})
        view = by_record["customers"][0]
        golden = view["customer"]
        phone = next(c["phone"] for c in golden["contacts"] if "phone" in c)
        account = next(x["id"] for x in view["xref"] if x["system"] == "billing")
        found: dict[str, dict[str, Any] | None] = {
            "golden_id": answer(connection, {"golden_id": view["golden_id"]}),
            "phone": answer(connection, {"phone": phone}),
            "account": answer(connection, {"account_number": account}),
            "inn": answer(connection, {"inn": golden["inn"]}) if golden.get("inn") else None,
        }
        missing = answer(connection, {"phone": "+79999999999"})
        ambiguous = answer(connection, {"phone": phone, "inn": "7707083893"})
    registry = default_registry()
    for reply in (by_record, missing, ambiguous, *(r for r in found.values() if r)):
        registry.validate("sync.customer.replied.v1", reply)
    for answered in found.values():
        if answered is not None:
            assert view["golden_id"] in {c["golden_id"] for c in answered["customers"]}
    assert missing["error"]["code"] == "not_found"
    assert ambiguous["error"]["code"] == "rejected"
    assert {x["system"] for x in view["xref"]} >= {"crm", "billing"}
    assert {p["field"] for p in view["provenance"]} >= {"name", "phones"}


def test_a_second_process_sees_what_the_first_one_linked(tmp_path: Path) -> None:
    from bus.db import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    first, second = SyncService(engine), SyncService(engine)  # two workers, one database
    company = SourceRecord(system="crm", record_id="CRM-1", kind="company",
                           name="ООО «Ромашка»", inn="7707083893", phones=("+74951234567",))
    first.import_records([company])
    first.run()
    second.apply(RecordChange(SourceRecord(system="crm", record_id="CRM-2", kind="person",
                                           name="Сидорова Анна"), False))  # builds its engine
    account = SourceRecord(system="billing", record_id="LS-1", name="Ромашка ООО",
                           inn="7707083893", phones=("+74951234567",))
    first.apply(RecordChange(account, False))
    moved = SourceRecord(system="crm", record_id="CRM-1", kind="company", name="ООО «Ромашка»",
                         inn="7707083893", phones=("+74951234567", "+74957654321"))
    second.apply(RecordChange(moved, False))
    with engine.connect() as connection:
        owner = read_xref(connection)
    assert owner[("billing", "LS-1")] == owner[("crm", "CRM-1")]
    engine.dispose()
