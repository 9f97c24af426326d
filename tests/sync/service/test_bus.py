"""The incremental consumer on a real bus (memory and RabbitMQ): changes.jsonl applied
through canonical events updates links, idempotently; the customer look-up answers."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus.app import Bus
from bus.envelope import Envelope
from sync.canonical import canonical_record, change_of_record, record_of_change
from sync.handlers import router
from sync.model import SourceRecord
from sync.service import SyncService
from sync.sources import Change, read_changes
from sync.store.records import load_records
from sync.store.xref import read_xref
from tests.conftest import BusFactory, collector, eventually
from tests.sync.service.helpers import truth_of

pytestmark = pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)


async def _sync_bus(make_bus: BusFactory, generated: Path
                    ) -> tuple[Bus, SyncService, list[Envelope]]:
    watch, received = collector("sync.#")
    bus = await make_bus(router, watch, source="sync", start=False)
    service = SyncService(bus.engine, on_commit=bus.outbox_relay_poke)
    service.import_directory(generated)
    service.run()
    bus.provide(SyncService, service)
    await bus.start()
    return bus, service, received


def _event(record: SourceRecord) -> tuple[str, dict[str, object]]:
    return change_of_record(canonical_record(record))


def _as_stored(record: SourceRecord) -> SourceRecord:
    """What the consumer stores for ``record`` after its trip through the canonical model."""
    message_type, payload = _event(record)
    return canonical_record(record_of_change(message_type, payload).record)


def _caught_up(engine: sa.Engine, records: list[SourceRecord]) -> bool:
    with engine.connect() as connection:
        stored = {r.key: r for r in load_records(connection, [r.key for r in records])}
    return all(stored.get(r.key) == r for r in records)


async def test_changes_through_the_bus_update_links_like_the_truth(
        make_bus: BusFactory, generated: Path) -> None:
    bus, service, received = await _sync_bus(make_bus, generated)
    changes: list[Change] = list(read_changes(generated / "changes.jsonl"))
    for change in changes:
        await bus.emit(*_event(change.record), source="test")
    # the last version of each record is what must be stored
    final = list({_as_stored(c.record).key: _as_stored(c.record) for c in changes}.values())
    await eventually(lambda: _caught_up(service.engine, final), timeout=30)
    truth = truth_of(generated)
    for change in changes:
        if change.customer_key:
            truth[canonical_record(change.record).key] = change.customer_key
    with service.engine.connect() as connection:
        owner = read_xref(connection)
    ids_of: dict[str, set[str]] = defaultdict(set)
    customers_of: dict[str, set[str]] = defaultdict(set)
    for key, customer in truth.items():
        if key[0] in ("crm", "billing") and key in owner:
            ids_of[customer].add(owner[key])
            customers_of[owner[key]].add(customer)
    touched = {c.customer_key for c in changes if c.customer_key}
    whole = {c for c in touched if len(ids_of[c]) == 1}
    pure = {c for c in touched if all(len(customers_of[g]) == 1 for g in ids_of[c])}
    assert len(whole) >= 0.95 * len(touched), sorted(touched - whole)
    assert len(pure) >= 0.95 * len(touched), sorted(touched - pure)
    created = [c for c in changes if c.op == "create"]
    if created:
        await eventually(lambda: any(e.type == "sync.customer.linked.v1" for e in received))


async def test_a_repeated_change_is_applied_once(make_bus: BusFactory, generated: Path) -> None:
    bus, _service, received = await _sync_bus(make_bus, generated)
    newcomer = SourceRecord(system="crm", record_id="CRM-7000001", kind="company",
                            name="ООО «Ромашка»", inn="7707083893", phones=("+74951234567",))
    first = await bus.emit(*_event(newcomer), source="test")
    await eventually(lambda: any(e.causation_id == first.id for e in received), timeout=20)
    await bus.publish(first)                               # the broker delivers it again
    again = await bus.emit(*_event(newcomer), source="test")  # the CRM sends it again
    sentinel = SourceRecord(system="crm", record_id="CRM-7000002", kind="person",
                            name="Сидорова Анна Павловна", phones=("+79130000077",))
    last = await bus.emit(*_event(sentinel), source="test")
    await eventually(lambda: any(e.causation_id == last.id for e in received), timeout=20)
    caused_by_first = [e for e in received if e.causation_id == first.id]
    assert {e.type for e in caused_by_first} >= {"sync.customer.linked.v1"}
    assert len(caused_by_first) == len({e.id for e in caused_by_first})
    assert not [e for e in received if e.causation_id == again.id]


async def test_the_customer_look_up_answers_over_the_bus(
        make_bus: BusFactory, generated: Path) -> None:
    bus, _service, _received = await _sync_bus(make_bus, generated)
    reply = await bus.request("sync.customer.requested.v1",
                              {"record": {"system": "crm", "id": "CRM-0000001"}}, timeout=5)
    view = reply.payload["customers"][0]
    by_golden = await bus.request("sync.customer.requested.v1",
                                  {"golden_id": view["golden_id"]}, timeout=5)
    assert by_golden.payload["customers"][0]["xref"] == view["xref"]
    assert ("crm", "CRM-0000001") in {(x["system"], x["id"]) for x in view["xref"]}
    missing = await bus.request("sync.customer.requested.v1", {"inn": "7707083893"}, timeout=5)
    assert missing.payload["error"]["code"] == "not_found"


