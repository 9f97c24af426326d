"""Reading what the synchronizer staged in the outbox, and scoring the xref."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa

from bus.delivery.outbox import outbox
from bus.envelope import Envelope, decode
from sync.canonical import canonical_id
from sync.evaluate import Evaluation, evaluate, read_truth
from sync.model import RecordKey
from sync.store.xref import read_xref


def staged(engine: sa.Engine, *types: str) -> list[Envelope]:
    with engine.connect() as connection:
        bodies = connection.execute(sa.select(outbox.c.body).order_by(outbox.c.id)).scalars()
        found = [decode(body) for body in bodies]
    return [e for e in found if not types or e.type in types]


def customers_in_xref(engine: sa.Engine) -> set[frozenset[RecordKey]]:
    """The stored customers as sets of record keys (global ids left out)."""
    with engine.connect() as connection:
        owner = read_xref(connection)
    groups: dict[str, set[RecordKey]] = defaultdict(set)
    for key, global_id in owner.items():
        groups[global_id].add(key)
    return {frozenset(group) for group in groups.values()}


def truth_of(directory: Path) -> dict[RecordKey, str]:
    return {(system, canonical_id(record_id)): customer
            for (system, record_id), customer in read_truth(directory / "truth.csv").items()}


def score(engine: sa.Engine, truth: Mapping[RecordKey, str]) -> Evaluation:
    with engine.connect() as connection:
        clusters = {key: int(gid[1:]) for key, gid in read_xref(connection).items()}
    return evaluate(clusters, truth)
