"""The write stage of a full run keeps its results while it got cheaper: each golden
value is the one its rule picks (restated here as the plain stable sorts the rules
describe), whatever order the records come in, and every conflict a run raises is
staged in the outbox once, in order, with the payload its stored row makes."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from bus.delivery.outbox import outbox
from bus.envelope import decode
from sync import events
from sync.golden import build_golden, candidate_values, survivorship_plan
from sync.model import SourceRecord
from sync.service import SyncService
from sync.settings import GOLDEN_FIELDS, FieldRule, SyncSettings
from sync.store.golden import load_golden
from sync.store.queue import list_conflicts
from sync.store.records import iter_records
from sync.store.tables import lookup_keys
from sync.store.xref import read_xref


def _by_the_rules(records: list[SourceRecord], settings: SyncSettings
                  ) -> dict[str, tuple[Any, str, str, str]]:
    """Each attribute's (value, system, id, rule) as the settings' rules define them."""
    chosen: dict[str, tuple[Any, str, str, str]] = {}
    offers = [(record, candidate_values(record)) for record in records]
    for name in GOLDEN_FIELDS:
        rule = settings.rule(name)
        rank = {system: i for i, system in enumerate(rule.systems)}
        having = [(r, values[name]) for r, values in offers if values[name] is not None]
        if not having:
            continue
        ordered = sorted(having, key=lambda item: item[0].key)
        by_rank = lambda item: rank.get(item[0].system, len(rank))  # noqa: B023, E731
        by_time = lambda item: item[0].updated_at or ""  # noqa: E731
        if rule.strategy == "trusted_source":
            ordered.sort(key=by_time, reverse=True)
            ordered.sort(key=by_rank)
        else:
            ordered.sort(key=by_rank)
            ordered.sort(key=by_time, reverse=True)
            if rule.strategy == "most_complete":
                ordered.sort(key=lambda item: len(orjson.dumps(item[1])), reverse=True)
        record, value = ordered[0]
        alone = len({orjson.dumps(v) for _r, v in having}) == 1
        chosen[name] = (value, record.system, record.record_id,
                        "only_value" if alone else rule.strategy)
    return chosen


def _customers(generated: Path, tmp_path: Path) -> list[list[SourceRecord]]:
    service = SyncService(sa.create_engine(f"sqlite:///{tmp_path / 'rules.db'}"))
    service.import_directory(generated)
    service.run()
    with service.engine.connect() as connection:
        linked = read_xref(connection)
        held: dict[str, list[SourceRecord]] = defaultdict(list)
        for record in iter_records(connection):
            held[linked[record.key]].append(record)
    service.engine.dispose()
    return list(held.values())


RULES = {
    "defaults": SyncSettings(),
    "most recent": SyncSettings(survivorship={
        name: FieldRule(strategy="most_recent", systems=("billing", "crm"))
        for name in GOLDEN_FIELDS}),
    "most complete": SyncSettings(survivorship={
        name: FieldRule(strategy="most_complete", systems=("docflow", "crm", "billing"))
        for name in GOLDEN_FIELDS}),
    "billing only trusted": SyncSettings(survivorship={
        name: FieldRule(strategy="trusted_source", systems=("billing",))
        for name in GOLDEN_FIELDS}),
}


@pytest.mark.parametrize("rules", list(RULES))
def test_every_golden_value_is_the_one_its_rule_picks_in_any_record_order(
    generated: Path, tmp_path: Path, rules: str
) -> None:
    settings = RULES[rules]
    plan = survivorship_plan(settings)
    shuffle = random.Random(5).shuffle
    customers = _customers(generated, tmp_path)
    contested = 0
    for number, records in enumerate(customers):
        expected = _by_the_rules(records, settings)
        shuffled = list(records)
        shuffle(shuffled)
        for given in (records, shuffled):
            golden = build_golden(f"G{number}", given, settings, plan=plan)
            got = {name: (v.value, v.system, v.record_id, v.rule)
                   for name, v in golden.values.items()}  # fmt: skip
            assert got == expected, [r.key for r in records]
            assert list(golden.values) == [name for name in GOLDEN_FIELDS if name in expected]
        contested += sum(1 for *_chosen, how in expected.values() if how != "only_value")
    assert sum(len(records) > 1 for records in customers) > 100
    assert contested > 100, "the generated customers' records disagree on some attributes"


def test_each_conflict_a_run_raises_is_staged_once_in_order_with_its_stored_payload(
    generated: Path, store_engine: sa.Engine
) -> None:
    service = SyncService(store_engine, SyncSettings(batch_size=100))
    service.import_directory(generated)
    outcome = service.run()
    with store_engine.connect() as connection:
        raised = list_conflicts(connection, limit=100_000)
        staged = connection.execute(
            sa.select(outbox.c.routing_key, outbox.c.body, outbox.c.message_id)
            .order_by(outbox.c.id)).all()  # fmt: skip
    envelopes = [decode(row.body) for row in staged]
    assert outcome.conflicts == len(raised) > 10
    assert [row.routing_key for row in staged] == ["sync.conflict.raised.v1"] * len(raised)
    assert [dict(e.payload) for e in envelopes] == [events.conflict_raised(c) for c in raised]
    assert [e.id for e in envelopes] == [row.message_id for row in staged]
    assert len({e.id for e in envelopes}) == len(envelopes)


def test_a_run_stores_the_golden_record_survivorship_makes_of_the_records_themselves(
    generated: Path, store_engine: sa.Engine
) -> None:
    """The run reads the records back as flat offers straight from their stored JSON and
    normalized facts; what it stores is what the records, normalized anew, make."""
    service = SyncService(store_engine)
    service.import_directory(generated)
    service.run()
    with store_engine.connect() as connection:
        linked = read_xref(connection)
        held: dict[str, list[SourceRecord]] = defaultdict(list)
        for record in iter_records(connection):
            held[linked[record.key]].append(record)
        for global_id, records in held.items():
            stored = load_golden(connection, global_id)
            golden = build_golden(global_id, records, service.settings)
            assert stored is not None
            assert stored["values"] == golden.plain(), global_id
            assert stored["provenance"] == golden.provenance(), global_id
            assert all(origin.keys() == {"system", "id", "rule"}  # each value stored once
                       for origin in stored["provenance"].values()), global_id
            assert sorted(find_keys(connection, global_id)) == sorted(golden.keys)
    assert sum(len(records) > 1 for records in held.values()) > 100


def find_keys(connection: sa.Connection, global_id: str) -> list[tuple[str, str]]:
    rows = connection.execute(sa.select(lookup_keys.c.kind, lookup_keys.c.value)
                              .where(lookup_keys.c.global_id == global_id))
    return [(kind, value) for kind, value in rows]
