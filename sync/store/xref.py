"""The xref (global id <-> source records) and its history, in SQL."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

import sqlalchemy as sa

from sync.model import RecordKey
from sync.store.bulk import insert_rows
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


_CUSTOMER_COLUMNS = ("number", "global_id", "created_at", "retired_into")
_XREF_COLUMNS = ("system", "record_id", "global_id", "linked_at", "reason")
_HISTORY_COLUMNS = ("system", "record_id", "global_id", "previous_global_id", "action", "actor",
                    "reason", "at")


def apply_identity(
    connection: sa.Connection, changes: IdentityChanges, *, actor: str,
    reasons: Mapping[RecordKey, str] | Callable[[RecordKey], str | None],
    batch_size: int = 5000,
) -> None:
    """Persist ids, xref rows and history for ``changes`` in the caller's transaction
    (rows as plain tuples: a first run writes two per record)."""
    now = time.time()
    reason_of = reasons if callable(reasons) else reasons.get
    insert_rows(connection, customers, _CUSTOMER_COLUMNS,
                ((int(gid[1:]), gid, now, None) for gid in changes.new_ids),
                batch_size=batch_size)
    for retired, into in changes.retired.items():
        connection.execute(customers.update().where(customers.c.global_id == retired)
                           .values(retired_into=into))
    moves = changes.moves
    moved = [m for m in moves if m.previous is not None]
    _delete_keys(connection, [m.key for m in moved] + list(changes.unlinked))
    said = [_short(reason_of(m.key)) for m in moves]  # once per record, for both tables
    ordered: Sequence[int] = range(len(moves))
    if moved:  # the xref's rows: the moved records' first, as they always were
        ordered = [i for i, m in enumerate(moves) if m.previous is not None]
        ordered += [i for i, m in enumerate(moves) if m.previous is None]
    insert_rows(connection, xref, _XREF_COLUMNS,
                ((moves[i].key[0], moves[i].key[1], moves[i].global_id, now, said[i])
                 for i in ordered), batch_size=batch_size)
    history = itertools.chain(
        ((m.key[0], m.key[1], m.global_id, m.previous, "moved" if m.previous else "linked",
          actor, said[i], now) for i, m in enumerate(moves)),
        ((key[0], key[1], None, None, "unlinked", actor, "record deleted in its system", now)
         for key in changes.unlinked))
    insert_rows(connection, xref_history, _HISTORY_COLUMNS, history, batch_size=batch_size)


def _short(text: str | None) -> str | None:
    return text[:256] if text and len(text) > 256 else text


def _delete_keys(connection: sa.Connection, keys: Sequence[RecordKey]) -> None:
    for system, ids in by_system(keys, _CHUNK):
        connection.execute(
            xref.delete().where(xref.c.system == system, xref.c.record_id.in_(ids)))
