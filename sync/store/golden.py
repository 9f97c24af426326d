"""Golden records in SQL: written when their digest changes, with what changed."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from sync.golden import GoldenParts, GoldenRecord
from sync.store.bulk import insert_rows
from sync.store.tables import golden, json_text, lookup_keys

__all__ = ["GoldenChange", "GoldenWrites", "Stored", "delete_golden", "find_customers",
           "golden_changes", "golden_writes", "has_golden", "load_golden", "save_golden",
           "stored_golden", "write_golden"]

_CHUNK = 500
_GOLDEN_COLUMNS = ("global_id", "values", "provenance", "digest", "updated_at")
_KEY_COLUMNS = ("kind", "value", "global_id")


@dataclass(frozen=True, slots=True)
class GoldenChange:
    """A golden record written because it differs from the stored one (or is new)."""

    parts: GoldenParts
    before: Mapping[str, Any] | None
    """The stored values it replaced; None: created."""

    @property
    def created(self) -> bool:
        return self.before is None

    @property
    def record(self) -> GoldenRecord:
        return self.parts.record()

    @property
    def changed_fields(self) -> tuple[str, ...]:
        plain, old = self.parts.plain, self.before
        if old is None:
            return tuple(sorted(k for k, v in plain.items() if v not in (None, [])))
        changed = tuple(sorted(k for k in set(plain) | set(old) if plain.get(k) != old.get(k)))
        return changed or ("sources",)


_VALUES_TEXT = json_text(golden.c["values"])
"""The stored values as the driver gives them (decoded only for the records that changed)."""

Stored = dict[str, tuple[str, Any]]
"""``global_id -> (digest, values as the driver read them)`` of stored golden records."""


@dataclass(slots=True)
class GoldenWrites:
    """What a batch of golden records writes, as rows ready for the driver's executemany:
    made apart from the writing (:func:`golden_writes`) so that a worker process can make
    them while this one inserts (:mod:`sync.write`)."""

    inserts: list[tuple[str, str, str, str, float]]
    updates: list[tuple[str, str, str, float, str]]
    keys: list[tuple[str, str, str]]
    written: list[GoldenParts]
    """The records written, in order (kept only when asked: the events need them)."""

    @property
    def count(self) -> int:
        return len(self.inserts) + len(self.updates)


def stored_golden(connection: sa.Connection, ids: Sequence[str]) -> Stored:
    """The digests and values of the stored golden records among ``ids``."""
    stored: Stored = {}
    for start in range(0, len(ids), _CHUNK):
        rows = connection.execute(
            sa.select(golden.c.global_id, golden.c.digest, _VALUES_TEXT)
            .where(golden.c.global_id.in_(ids[start:start + _CHUNK])))
        stored.update({gid: (digest, values) for gid, digest, values in rows})
    return stored


def golden_writes(records: Sequence[GoldenParts], digests: Mapping[str, str], now: float,
                  *, keep_written: bool) -> GoldenWrites:
    """The rows that write the records of ``records`` whose digest differs from the stored
    one (``digests``: the stored digests; a record not there is created)."""
    writes = GoldenWrites([], [], [], [])
    inserts, updates, keys = writes.inserts, writes.updates, writes.keys
    for record in records:
        digest = record.digest
        gid = record.global_id
        before = digests.get(gid)
        if before == digest:
            continue
        if keep_written:
            writes.written.append(record)
        values, provenance = _json(record.plain), _json(record.provenance)
        if before is None:  # JSON written by orjson: the driver gets text
            inserts.append((gid, values, provenance, digest, now))
        else:
            updates.append((values, provenance, digest, now, gid))
        keys.extend((kind, value[:128], gid) for kind, value in record.keys)
    return writes


def golden_changes(written: Iterable[GoldenParts], stored: Stored) -> list[GoldenChange]:
    """What changed in each record of ``written`` (``stored``: what was there before)."""
    changes = []
    for record in written:
        before = stored.get(record.global_id)
        old = None if before is None else before[1]
        changes.append(GoldenChange(
            record, None if before is None
            else orjson.loads(old) if isinstance(old, str | bytes) else old))
    return changes


def save_golden(connection: sa.Connection, records: Sequence[GoldenParts],
                batch_size: int = 5000, *, fresh: bool = False,
                changes: list[GoldenChange] | None = None) -> int:
    """Write the golden records that differ from the stored ones; returns how many, and
    adds what changed to ``changes`` (the events need it; a quiet first run does not).
    ``fresh``: the caller knows none of them is stored (a first run's empty table)."""
    stored = {} if fresh else stored_golden(connection, [r.global_id for r in records])
    writes = golden_writes(records, {gid: d for gid, (d, _values) in stored.items()},
                           time.time(), keep_written=changes is not None)
    write_golden(connection, writes, batch_size)
    if changes is not None:
        changes.extend(golden_changes(writes.written, stored))
    return writes.count


def write_golden(connection: sa.Connection, writes: GoldenWrites, batch_size: int = 5000
                 ) -> None:
    """Insert, update and re-key what :func:`golden_writes` made, in the caller's
    transaction."""
    insert_rows(connection, golden, _GOLDEN_COLUMNS, writes.inserts, batch_size=batch_size)
    updates = writes.updates
    _delete_keys(connection, [row[-1] for row in updates])
    insert_rows(connection, lookup_keys, _KEY_COLUMNS, writes.keys, batch_size=batch_size)
    if updates:
        statement = golden.update().where(golden.c.global_id == sa.bindparam("gid")).values(
            {"values": sa.bindparam("v"), "provenance": sa.bindparam("p"),
             "digest": sa.bindparam("d"), "updated_at": sa.bindparam("u")})
        compiled = statement.compile(dialect=connection.dialect)
        names = ("v", "p", "d", "u", "gid")
        sql, order = str(compiled), compiled.positiontup
        params: list[Any] = (
            [tuple(row[names.index(n)] for n in order) for row in updates]
            if compiled.positional and order is not None
            else [dict(zip(names, row, strict=True)) for row in updates])
        for start in range(0, len(params), batch_size):
            connection.exec_driver_sql(sql, params[start:start + batch_size])


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def has_golden(connection: sa.Connection) -> bool:
    """Whether any golden record is stored (a first run finds none, and reads none back)."""
    return connection.execute(sa.select(golden.c.global_id).limit(1)).first() is not None


def load_golden(connection: sa.Connection, global_id: str) -> dict[str, Any] | None:
    row = connection.execute(sa.select(golden).where(golden.c.global_id == global_id)).first()
    if row is None:
        return None
    return {"global_id": row.global_id, "values": row.values, "provenance": row.provenance,
            "updated_at": row.updated_at}


def delete_golden(connection: sa.Connection, global_ids: Iterable[str]) -> None:
    ids = sorted(set(global_ids))
    for start in range(0, len(ids), _CHUNK):
        connection.execute(golden.delete().where(golden.c.global_id.in_(ids[start:start + _CHUNK])))
    _delete_keys(connection, ids)


def _delete_keys(connection: sa.Connection, ids: Sequence[str]) -> None:
    for start in range(0, len(ids), _CHUNK):
        connection.execute(lookup_keys.delete().where(
            lookup_keys.c.global_id.in_(list(ids[start:start + _CHUNK]))))


def find_customers(connection: sa.Connection, kind: str, value: str) -> list[str]:
    """Global ids found by a look-up key (``phone``, ``inn``, ``account``)."""
    return list(connection.execute(
        sa.select(lookup_keys.c.global_id)
        .where(lookup_keys.c.kind == kind, lookup_keys.c.value == value)
        .order_by(lookup_keys.c.global_id)).scalars())
