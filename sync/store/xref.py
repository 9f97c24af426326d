"""The xref (global id <-> source records) and its history, in SQL."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa

from sync.model import RecordKey
from sync.store.bulk import bulk_insert
from sync.store.identity import IdentityChanges
from sync.store.keys import by_system
from sync.store.tables import customers, xref, xref_history

__all__ = [
    "IdAllocator",
    "apply_identity",
    "customers_of",
    "members_of",
    "read_xref",
    "xref_of",
]

_CHUNK = 500


def format_id(number: int) -> str:
    return f"G{number:09d}"


class IdAllocator:
    """Hands out new global ids after the highest one in the table (one writer at a time)."""

    def __init__(self, connection: sa.Connection) -> None:
        top = connection.execute(sa.select(sa.func.max(customers.c.number))).scalar()
        self.next = int(top or 0) + 1

    def __call__(self) -> str:
        number = self.next
        self.next += 1
        return format_id(number)


def read_xref(connection: sa.Connection) -> dict[RecordKey, str]:
    """The whole xref: every linked record and its global id."""
    rows = connection.execute(
        sa.select(xref.c.system, xref.c.record_id, xref.c.global_id)
        .execution_options(stream_results=True, yield_per=20000))
    return {(system, record_id): gid for system, record_id, gid in rows}


def xref_of(connection: sa.Connection, keys: Iterable[RecordKey]) -> dict[RecordKey, str]:
    found: dict[RecordKey, str] = {}
    for system, ids in by_system(keys, _CHUNK):  # the primary key's index (see sync.store.keys)
        rows = connection.execute(
            sa.select(xref.c.record_id, xref.c.global_id)
            .where(xref.c.system == system, xref.c.record_id.in_(ids)))
        found.update({(system, r): g for r, g in rows})
    return found


def members_of(connection: sa.Connection, global_ids: Iterable[str]) -> dict[str, list[RecordKey]]:
    """The records linked to each of ``global_ids``."""
    wanted = sorted(set(global_ids))
    found: dict[str, list[RecordKey]] = defaultdict(list)
    for start in range(0, len(wanted), _CHUNK):
        rows = connection.execute(
            sa.select(xref.c.global_id, xref.c.system, xref.c.record_id)
            .where(xref.c.global_id.in_(wanted[start:start + _CHUNK]))
            .order_by(xref.c.global_id, xref.c.system, xref.c.record_id))
        for gid, system, record_id in rows:
            found[gid].append((system, record_id))
    return dict(found)


def customers_of(connection: sa.Connection, global_id: str) -> str | None:
    """The live id ``global_id`` stands for now (follows retirements), or None if unknown."""
    seen: set[str] = set()
    current = global_id
    while current not in seen:
        seen.add(current)
        row = connection.execute(
            sa.select(customers.c.retired_into).where(customers.c.global_id == current)).first()
        if row is None:
            return None
        if row.retired_into is None:
            return current
        current = row.retired_into
    return None


def apply_identity(
    connection: sa.Connection, changes: IdentityChanges, *, actor: str,
    reasons: Mapping[RecordKey, str] | Callable[[RecordKey], str | None],
    batch_size: int = 5000,
) -> None:
    """Persist ids, xref rows and history for ``changes`` in the caller's transaction."""
    now = time.time()
    reason_of = reasons if callable(reasons) else reasons.get
    bulk_insert(connection, customers,
                ({"number": int(gid[1:]), "global_id": gid, "created_at": now,
                  "retired_into": None} for gid in changes.new_ids), batch_size=batch_size)
    for retired, into in changes.retired.items():
        connection.execute(customers.update().where(customers.c.global_id == retired)
                           .values(retired_into=into))
    moved = [m for m in changes.moves if m.previous is not None]
    fresh = [m for m in changes.moves if m.previous is None]
    _delete_keys(connection, [m.key for m in moved] + list(changes.unlinked))
    rows = ({"system": m.key[0], "record_id": m.key[1], "global_id": m.global_id,
             "linked_at": now, "reason": _short(reason_of(m.key))} for m in (*moved, *fresh))
    bulk_insert(connection, xref, rows, batch_size=batch_size)  # streamed: one batch at a time
    history = itertools.chain(
        ({"system": m.key[0], "record_id": m.key[1], "global_id": m.global_id,
          "previous_global_id": m.previous, "action": "moved" if m.previous else "linked",
          "actor": actor, "reason": _short(reason_of(m.key)), "at": now}
         for m in changes.moves),
        ({"system": key[0], "record_id": key[1], "global_id": None, "previous_global_id": None,
          "action": "unlinked", "actor": actor, "reason": "record deleted in its system",
          "at": now}
         for key in changes.unlinked))
    bulk_insert(connection, xref_history, history, batch_size=batch_size)


def _short(text: str | None) -> str | None:
    return text[:256] if text else text


def _delete_keys(connection: sa.Connection, keys: Sequence[RecordKey]) -> None:
    for system, ids in by_system(keys, _CHUNK):
        connection.execute(
            xref.delete().where(xref.c.system == system, xref.c.record_id.in_(ids)))
