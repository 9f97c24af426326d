"""Golden records in SQL: written when their digest changes, with what changed."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from sync.golden import GoldenRecord
from sync.store.tables import golden, lookup_keys

__all__ = ["GoldenChange", "delete_golden", "find_customers", "load_golden", "save_golden"]

_CHUNK = 500
_GOLDEN_COLUMNS = ("global_id", "values", "provenance", "digest", "updated_at")
_KEY_COLUMNS = ("kind", "value", "global_id")


@dataclass(frozen=True, slots=True)
class GoldenChange:
    record: GoldenRecord
    changed_fields: tuple[str, ...]
    created: bool


def save_golden(connection: sa.Connection, records: Sequence[GoldenRecord],
                batch_size: int = 5000) -> list[GoldenChange]:
    """Write the golden records that differ from the stored ones; returns what changed."""
    ids = [r.global_id for r in records]
    stored: dict[str, tuple[str, dict[str, Any]]] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = connection.execute(
            sa.select(golden.c.global_id, golden.c.digest, golden.c["values"])
            .where(golden.c.global_id.in_(ids[start:start + _CHUNK])))
        stored.update({gid: (digest, values) for gid, digest, values in rows})
    now = time.time()
    changes: list[GoldenChange] = []
    inserts: list[tuple[str, str, str, str, float]] = []
    updates: list[dict[str, Any]] = []
    for record in records:
        plain = record.plain()
        digest = record.digest_of(plain)
        before = stored.get(record.global_id)
        if before is not None and before[0] == digest:
            continue
        if before is None:  # JSON written by orjson: the driver gets text
            inserts.append((record.global_id, _json(plain), _json(record.provenance()),
                            digest, now))
            changes.append(GoldenChange(record, tuple(sorted(k for k, v in plain.items()
                                                             if v not in (None, []))), True))
        else:
            updates.append({"gid": record.global_id, "values": plain,
                            "provenance": record.provenance(), "digest": digest,
                            "updated_at": now})
            old = before[1]
            changed = tuple(sorted(k for k in set(plain) | set(old) if plain.get(k) != old.get(k)))
            changes.append(GoldenChange(record, changed or ("sources",), False))
    _insert_tuples(connection, golden, _GOLDEN_COLUMNS, inserts, batch_size=batch_size)
    changed_ids = [change.record.global_id for change in changes if not change.created]
    _delete_keys(connection, changed_ids)
    keys = [(kind, value[:128], change.record.global_id)
            for change in changes for kind, value in sorted(change.record.keys)]
    _insert_tuples(connection, lookup_keys, _KEY_COLUMNS, keys, batch_size=batch_size)
    if updates:
        statement = golden.update().where(golden.c.global_id == sa.bindparam("gid")).values(
            {"values": sa.bindparam("values"), "provenance": sa.bindparam("provenance"),
             "digest": sa.bindparam("digest"), "updated_at": sa.bindparam("updated_at")})
        for start in range(0, len(updates), batch_size):
            connection.execute(statement, updates[start:start + batch_size])
    return changes


def _insert_tuples(connection: sa.Connection, table: sa.Table, columns: Sequence[str],
                  rows: Sequence[tuple[Any, ...]], *, batch_size: int) -> None:
    """Insert plain ``rows`` (values in the order of ``columns``) through the driver's
    executemany, ``batch_size`` at a time."""
    if not rows:
        return
    compiled = table.insert().compile(dialect=connection.dialect, column_keys=list(columns))
    sql = str(compiled)
    order = compiled.positiontup
    if compiled.positional and order is not None:
        where = [columns.index(name) for name in order]
        same = where == list(range(len(columns)))
        params: list[Any] = (list(rows) if same
                             else [tuple(row[i] for i in where) for row in rows])  # fmt: skip
    else:
        params = [dict(zip(columns, row, strict=True)) for row in rows]
    for start in range(0, len(params), batch_size):
        connection.exec_driver_sql(sql, params[start:start + batch_size])


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


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
