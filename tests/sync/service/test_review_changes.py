"""A single change keeps the review queue true: a pair the change takes out of the review
band (it links now, or it clearly does not) has its open conflict closed, with the reason
and an audit entry; a pair the change brings into the band is raised, and one closed that
way comes back; a person's decision is never undone."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

import sqlalchemy as sa

from sync.canonical import RecordChange
from sync.model import SourceRecord
from sync.service import SyncService
from sync.store.queue import StoredConflict, list_conflicts, read_audit
from sync.store.xref import read_xref
from tests.sync.service.helpers import staged

IVANOV = SourceRecord(
    system="crm", record_id="CRM-1", kind="person", name="Иванов Иван Иванович",
    birth_date="1980-01-02", phones=("+79120000001",),
    address="г. Пермь, ул. Ленина, д. 1, кв. 1", updated_at="2024-01-01")
NAMESAKE = SourceRecord(  # same name, another phone and address: the review band
    system="billing", record_id="LS-1", name="Иванов Иван Иванович", phones=("+79120000009",),
    address="г. Пермь, ул. Мира, д. 7, кв. 3", updated_at="2024-02-01")
SAME_MAN = SourceRecord(  # his birth date, phone and address: one customer
    system="billing", record_id="LS-1", name="Иванов Иван Иванович", birth_date="02.01.1980",
    phones=("+79120000001",), address="г. Пермь, ул. Ленина, д. 1, кв. 1",
    updated_at="2024-03-01")
STRANGER = SourceRecord(  # nothing in common: below the band
    system="billing", record_id="LS-1", name="Сидорова Анна Петровна", phones=("+79125550000",),
    updated_at="2024-04-01")


def _review(service: SyncService) -> list[StoredConflict]:
    with service.engine.connect() as connection:
        return list_conflicts(connection, state=None, kind="review_pair")


def _raised(service: SyncService) -> list[str]:
    return [e.payload["conflict_id"] for e in staged(service.engine, "sync.conflict.raised.v1")]


def test_a_change_closes_the_review_conflicts_it_made_obsolete_and_raises_new_ones(
    store_engine: sa.Engine,
) -> None:
    service = SyncService(store_engine)
    service.import_records([IVANOV, STRANGER])
    service.run()
    assert _review(service) == []

    service.apply(RecordChange(NAMESAKE, False))  # the account enters the band
    (raised,) = _review(service)
    assert raised.state == "open"
    assert set(raised.conflict.records) == {IVANOV.key, NAMESAKE.key}
    assert _raised(service) == [raised.conflict_id]

    service.apply(RecordChange(STRANGER, False))  # clearly someone else now
    (apart,) = _review(service)
    assert apart.id == raised.id and apart.state == "obsolete"
    assert apart.decided_by == service.settings.actor
    assert apart.note is not None and "review band" in apart.note

    service.apply(RecordChange(NAMESAKE, False))  # back in the band: the same conflict, open
    (again,) = _review(service)
    assert again.id == raised.id and again.state == "open"
    assert (again.decided_by, again.note) == (None, None)
    assert _raised(service) == [raised.conflict_id, raised.conflict_id]

    service.apply(RecordChange(SAME_MAN, False))  # the evidence links them now
    (linked,) = _review(service)
    with service.engine.connect() as connection:
        owner = read_xref(connection)
        audit = read_audit(connection, limit=100)
    assert owner[IVANOV.key] == owner[SAME_MAN.key]
    assert linked.id == raised.id and linked.state == "obsolete"
    assert linked.note is not None and "link" in linked.note
    closing = [a for a in audit if a["target"] == raised.conflict_id]
    assert [a["action"] for a in closing] == ["conflict:closed", "conflict:closed"]
    assert {a["actor"] for a in closing} == {service.settings.actor}


def test_a_decided_review_conflict_stays_decided_whatever_the_changes(
    store_engine: sa.Engine,
) -> None:
    service = SyncService(store_engine)
    service.import_records([IVANOV, NAMESAKE])
    service.run()
    (raised,) = _review(service)
    service.resolve(raised.conflict_id, "dismiss", actor="operator.petrova")
    service.apply(RecordChange(STRANGER, False))
    service.apply(RecordChange(NAMESAKE, False))
    (decided,) = _review(service)
    assert (decided.state, decided.decision, decided.decided_by) == (
        "resolved", "dismiss", "operator.petrova")
    assert _raised(service) == [raised.conflict_id]


def test_a_full_run_closes_and_raises_review_conflicts_the_same_way(
    store_engine: sa.Engine,
) -> None:
    service = SyncService(store_engine)
    service.import_records([IVANOV, NAMESAKE])
    service.run()
    (raised,) = _review(service)
    service.import_records([SAME_MAN])
    service.run()
    (linked,) = _review(service)
    assert linked.state == "obsolete" and linked.note is not None and "link" in linked.note
    service.import_records([NAMESAKE])
    service.run()
    (again,) = _review(service)
    assert again.id == raised.id and again.state == "open"
