"""The store on SQLite and PostgreSQL: records, xref with history, conflicts, decisions."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from sync.conflicts import Conflict
from sync.model import SourceRecord
from sync.store import create_tables
from sync.store.identity import assign_ids
from sync.store.queue import (
    add_decisions,
    close_conflict,
    list_conflicts,
    load_decisions,
    raise_conflicts,
)
from sync.store.records import iter_records, load_records, mark_deleted, upsert_many, upsert_one
from sync.store.tables import records, xref_history
from sync.store.xref import IdAllocator, apply_identity, members_of, read_xref

PERSON = SourceRecord(system="crm", record_id="CRM-1", kind="person", name="Иванова Мария",
                      birth_date="1984-05-17", phones=("+79123456789", "8 (912) 000-00-01"),
                      attributes={"segment": "vip"})


def test_source_records_round_trip_and_repeats_change_nothing(store_engine: sa.Engine) -> None:
    create_tables(store_engine)
    batch = [SourceRecord(system="billing", record_id=f"LS-{i}", name=f"Абонент {i}")
             for i in range(1200)]
    with store_engine.begin() as connection:
        assert upsert_many(connection, [PERSON, *batch]) == 1201
    with store_engine.begin() as connection:
        assert upsert_one(connection, PERSON) is False  # the same record again
        changed = dataclasses.replace(PERSON, email="m@example.ru")
        assert upsert_one(connection, changed, {"raw": "payload"}) is True
        assert mark_deleted(connection, ("billing", "LS-7")) is True
    with store_engine.connect() as connection:
        loaded = load_records(connection, [PERSON.key, ("billing", "LS-7"), ("billing", "LS-8")])
        version, raw, normalized = connection.execute(
            sa.select(records.c.version, records.c.raw, records.c.normalized)
            .where(records.c.record_id == "CRM-1")).one()
        everything = list(iter_records(connection))
    assert {r.key for r in loaded} == {PERSON.key, ("billing", "LS-8")}
    assert next(r for r in loaded if r.key == PERSON.key) == changed
    assert (version, raw) == (2, {"raw": "payload"})
    assert normalized["phones"] == ["+79120000001", "+79123456789"]
    assert (normalized["birth_date"], normalized["email"]) == ("1984-05-17", "m@example.ru")
    assert len(everything) == 1200


def test_xref_keeps_ids_and_history_of_who_linked_what(store_engine: sa.Engine) -> None:
    create_tables(store_engine)
    a, b, c = ("crm", "CRM-1"), ("billing", "LS-1"), ("billing", "LS-2")
    with store_engine.begin() as connection:
        first = assign_ids([[a, b], [c]], {}, IdAllocator(connection))
        apply_identity(connection, first, actor="sync", reasons={a: "same valid INN"})
    with store_engine.begin() as connection:
        previous = read_xref(connection)
        second = assign_ids([[a, b, c]], previous, IdAllocator(connection))
        apply_identity(connection, second, actor="operator.petrova", reasons={c: "manual"})
    with store_engine.connect() as connection:
        now = read_xref(connection)
        members = members_of(connection, set(now.values()))
        history = connection.execute(sa.select(
            xref_history.c.record_id, xref_history.c.action, xref_history.c.actor,
            xref_history.c.reason).order_by(xref_history.c.id)).all()
    assert now[a] == now[b] == now[c] == previous[a]
    assert members == {previous[a]: sorted([a, b, c])}
    assert second.retired == {previous[c]: previous[a]}
    assert [tuple(row) for row in history][-1] == ("LS-2", "moved", "operator.petrova", "manual")
    assert sum(1 for row in history if row.action == "linked") == 3


def test_conflicts_are_raised_once_and_decisions_keep_the_latest_word(
        store_engine: sa.Engine) -> None:
    create_tables(store_engine)
    a, b = ("crm", "CRM-1"), ("crm", "CRM-2")
    conflict = Conflict("crm_duplicate", (a, b), "2 CRM cards", "G000000001")
    with store_engine.begin() as connection:
        assert len(raise_conflicts(connection, [conflict])) == 1
        assert raise_conflicts(connection, [conflict]) == []
        stored = list_conflicts(connection)[0]
        close_conflict(connection, stored.id, decision="split", actor="petrova")
        assert raise_conflicts(connection, [conflict]) == []  # decided: it does not come back
        add_decisions(connection, "cannot_link", [(a, b)], actor="petrova")
        assert load_decisions(connection).cannot_link == frozenset({(a, b)})
        add_decisions(connection, "must_link", [(b, a)], actor="ivanov")
        decisions = load_decisions(connection)
    assert decisions.must_link == frozenset({(a, b)}) and not decisions.cannot_link
    assert stored.conflict_id == "C0000001" and stored.conflict.records == (a, b)
