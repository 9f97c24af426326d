"""Golden records in SQL: written when their digest changes, with what changed."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from sync.golden import GoldenRecord
from sync.store.bulk import bulk_insert
from sync.store.tables import golden, lookup_keys

__all__ = ["GoldenChange", "delete_golden", "find_customers", "load_golden", "save_golden"]

_CHUNK = 500


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
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for record in records:
        digest = record.digest
        before = stored.get(record.global_id)
        if before is not None and before[0] == digest:
            continue
        plain = record.plain()
        row = {"global_id": record.global_id, "values": plain,
               "provenance": record.provenance(), "digest": digest, "updated_at": now}
        if before is None:
            inserts.append(row)
            changes.append(GoldenChange(record, tuple(sorted(k for k, v in plain.items()
                                                             if v not in (None, []))), True))
        else:
            updates.append({**row, "gid": record.global_id})
            old = before[1]
            changed = tuple(sorted(k for k in set(plain) | set(old) if plain.get(k) != old.get(k)))
            changes.append(GoldenChange(record, changed or ("sources",), False))
    bulk_insert(connection, golden, [  # JSON written by orjson: the driver gets text
        {**row, "values": _json(row["values"]), "provenance": _json(row["provenance"])}
        for row in inserts], batch_size=batch_size)
    changed_ids = [change.record.global_id for change in changes if not change.created]
    _delete_keys(connection, changed_ids)
    keys = [{"kind": kind, "value": value[:128], "global_id": change.record.global_id}
            for change in changes for kind, value in sorted(change.record.keys)]
    bulk_insert(connection, lookup_keys, keys, batch_size=batch_size)
    if updates:
        statement = golden.update().where(golden.c.global_id == sa.bindparam("gid")).values(
            {"values": sa.bindparam("values"), "provenance": sa.bindparam("provenance"),
             "digest": sa.bindparam("digest"), "updated_at": sa.bindparam("updated_at")})
        for start in range(0, len(updates), batch_size):
            connection.execute(statement, [{k: v for k, v in row.items() if k != "global_id"}
                                           for row in updates[start:start + batch_size]])
    return changes


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
