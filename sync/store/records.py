"""Source records in SQL: bulk upserts for first loads, one-record upserts for changes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from sync.golden import Offer, facts_of, offer_of, stored_offer
from sync.model import RecordKey, SourceRecord
from sync.store.bulk import insert_rows
from sync.store.keys import by_system
from sync.store.tables import json_text, records, xref

__all__ = [
    "LinkedRow",
    "count_records",
    "decode_record",
    "from_row",
    "is_live",
    "is_stored",
    "iter_linked_offers",
    "iter_linked_rows",
    "iter_records",
    "iter_stored",
    "linked_offer",
    "load_records",
    "mark_deleted",
    "normalized_json",
    "record_json",
    "upsert_many",
    "upsert_one",
]


def record_json(record: SourceRecord) -> dict[str, Any]:
    """A :class:`SourceRecord` as plain JSON (phones a list, attributes a dict)."""
    return {
        "system": record.system, "record_id": record.record_id, "kind": record.kind,
        "name": record.name, "birth_date": record.birth_date, "inn": record.inn,
        "passport": record.passport, "phones": list(record.phones), "email": record.email,
        "city": record.city, "address": record.address, "updated_at": record.updated_at,
        "attributes": dict(record.attributes),
    }


def normalized_json(record: SourceRecord) -> dict[str, Any]:
    """The record's identifiers and contacts in their normalized forms (valid INN only,
    ten-digit passport, ISO birth date, E.164 phones, kind inferred)."""
    facts = facts_of(record)
    return {"kind": facts.kind, "inn": facts.inn, "birth_date": facts.birth_date,
            "passport": facts.passport, "phones": list(facts.phones), "email": facts.email}


def from_row(data: Mapping[str, Any]) -> SourceRecord:
    return SourceRecord(
        system=data["system"], record_id=data["record_id"], kind=data.get("kind") or "",
        name=data.get("name") or "", birth_date=data.get("birth_date"), inn=data.get("inn"),
        passport=data.get("passport"), phones=tuple(data.get("phones") or ()),
        email=data.get("email"), city=data.get("city"), address=data.get("address"),
        updated_at=data.get("updated_at"), attributes=dict(data.get("attributes") or {}),
    )


_COLUMNS = ("system", "record_id", "version", "updated_at", "deleted", "record", "normalized",
            "raw", "received_at")  # fmt: skip


_INCOMING = sa.Table(
    "sync_records_incoming", sa.MetaData(),
    *(sa.Column(column.name, column.type) for column in records.c),
    prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
)
"""PostgreSQL: a batch of an import is copied here, then upserted into ``sync_records``
by one statement (a temporary table of the transaction: nothing outlives it on the
connection, which a transaction-pooling proxy may hand to another client next)."""

_COPY_FROM = 1000
"""Records in a batch from which PostgreSQL gets COPY and one upsert, not a statement each."""


def _upsert(connection: sa.Connection, source: sa.Select[Any] | None = None) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE`` of the rows given, or of ``source``'s."""
    statement: Any
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(records)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(records)
    if source is not None:
        statement = statement.from_select(_COLUMNS, source)
    return statement.on_conflict_do_update(  # no bound values: the rows bring them all
        index_elements=[records.c.system, records.c.record_id],
        set_={"version": records.c.version + sa.literal_column("1"),
              "updated_at": statement.excluded.updated_at, "deleted": sa.false(),
              "record": statement.excluded.record, "raw": statement.excluded.raw,
              "normalized": statement.excluded.normalized,
              "received_at": statement.excluded.received_at},
    )  # fmt: skip


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def upsert_many(
    connection: sa.Connection, batch: Sequence[SourceRecord],
    raws: Sequence[Mapping[str, Any] | None] | None = None,
) -> int:
    """Insert or replace ``batch`` in one executemany straight through the driver (a large
    batch on PostgreSQL: one COPY and one upsert), the JSON columns encoded by orjson (an
    import of a million records spent a third of its time in SQLAlchemy's per-row JSON
    and parameter processing); returns the rows written."""
    if not batch:
        return 0
    now = time.time()
    rows = [
        {"system": r.system, "record_id": r.record_id, "version": 1, "updated_at": r.updated_at,
         "deleted": False, "record": _json(record_json(r)), "normalized": _json(normalized_json(r)),
         "raw": _json(dict(raw)) if raws is not None and (raw := raws[i]) is not None else None,
         "received_at": now}
        for i, r in enumerate(batch)
    ]  # fmt: skip
    if _copies(connection, batch):
        return _copy_upsert(connection, [tuple(row[c] for c in _COLUMNS) for row in rows])
    compiled = _upsert(connection).compile(dialect=connection.dialect, column_keys=_COLUMNS)
    order = compiled.positiontup
    if compiled.positional and order is not None:
        connection.exec_driver_sql(str(compiled), [tuple(row[c] for c in order) for row in rows])
    else:
        connection.exec_driver_sql(str(compiled), rows)
    return len(rows)


def _copies(connection: sa.Connection, batch: Sequence[SourceRecord]) -> bool:
    """Whether ``batch`` goes through COPY: PostgreSQL with psycopg, a batch of an import,
    each record once (one statement cannot update a row twice; a record repeated in a
    batch takes the statement-per-row path, which counts each repeat as a version)."""
    return (connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"
            and len(batch) >= _COPY_FROM and len({r.key for r in batch}) == len(batch))


def _copy_upsert(connection: sa.Connection, rows: list[tuple[Any, ...]]) -> int:
    """``rows`` COPYed into the transaction's incoming table, then upserted by one statement:
    an import on PostgreSQL otherwise runs an INSERT per record."""
    _INCOMING.create(connection, checkfirst=True)
    connection.execute(_INCOMING.delete())  # a batch before, in this same transaction
    insert_rows(connection, _INCOMING, _COLUMNS, rows)
    connection.execute(_upsert(connection, sa.select(*(_INCOMING.c[c] for c in _COLUMNS))))
    return len(rows)


def is_stored(connection: sa.Connection, record: SourceRecord) -> bool:
    """The store already holds ``record`` exactly (a repeated change)."""
    current = connection.execute(
        sa.select(records.c.record, records.c.deleted)
        .where(records.c.system == record.system, records.c.record_id == record.record_id)
    ).first()
    return current is not None and not current.deleted and current.record == record_json(record)


def is_live(connection: sa.Connection, key: RecordKey) -> bool:
    return connection.execute(sa.select(records.c.deleted).where(
        records.c.system == key[0], records.c.record_id == key[1])).scalar() is False


def upsert_one(
    connection: sa.Connection, record: SourceRecord, raw: Mapping[str, Any] | None = None,
) -> bool:
    """Store one record; False when the stored record already says the same (a repeat)."""
    if is_stored(connection, record):
        return False
    upsert_many(connection, [record], [raw])
    return True


def mark_deleted(connection: sa.Connection, key: RecordKey) -> bool:
    result = connection.execute(
        records.update()
        .where(records.c.system == key[0], records.c.record_id == key[1],
               records.c.deleted.is_(False))
        .values(deleted=True, version=records.c.version + 1, received_at=time.time()))
    return bool(result.rowcount)


_RECORD_TEXT = json_text(records.c.record)
"""The stored record as text, decoded by orjson where needed (see :func:`_decoded`)."""
_NORMALIZED_TEXT = json_text(records.c.normalized)


def _decoded(data: str | bytes | Mapping[str, Any]) -> SourceRecord:
    """A streamed record: JSON text (:func:`~sync.store.tables.json_text`) parsed by
    orjson, several times faster than the standard library at a million rows (a mapping,
    from a caller that has one, is taken as it is)."""
    return from_row(orjson.loads(data) if isinstance(data, str | bytes) else data)


def decode_record(data: str | bytes | Mapping[str, Any]) -> SourceRecord:
    """A record as :func:`iter_stored` yields it, decoded: module-level, so that the
    engine's worker processes can be handed it and do the decoding."""
    return _decoded(data)


def iter_stored(connection: sa.Connection, *, chunk: int = 20000) -> Iterator[str | bytes | Any]:
    """Every live record as its JSON text, streamed, not
    decoded: a full run's engine has its worker processes decode it (:func:`decode_record`)."""
    result = connection.execute(
        sa.select(_RECORD_TEXT).where(records.c.deleted.is_(False))
        .execution_options(stream_results=True, yield_per=chunk))
    for (data,) in result:
        yield data


def iter_records(connection: sa.Connection, *, chunk: int = 20000) -> Iterator[SourceRecord]:
    """Every live record, streamed."""
    for data in iter_stored(connection, chunk=chunk):
        yield _decoded(data)


LinkedRow = tuple[str, Any, Any]
"""``(global_id, record, normalized)``, the last two JSON text as stored."""


def iter_linked_rows(connection: sa.Connection, *, chunk: int = 20000) -> Iterator[LinkedRow]:
    """Every live record with its global id (the xref as the caller's transaction sees
    it), streamed in global-id order (a customer's records come one after another), as
    the driver read them: :func:`linked_offer` makes each an offer, here or in a worker
    process (:mod:`sync.write`)."""
    statement = (
        sa.select(xref.c.global_id, _RECORD_TEXT, _NORMALIZED_TEXT)
        .join(records, sa.and_(records.c.system == xref.c.system,
                               records.c.record_id == xref.c.record_id))
        .where(records.c.deleted.is_(False))
        .order_by(xref.c.global_id))
    return _rows(connection, statement, chunk)


def linked_offer(data: str | bytes | Mapping[str, Any],
                 normalized: str | bytes | Mapping[str, Any] | None) -> Offer:
    """A stored record as the :data:`~sync.golden.Offer` survivorship and the conflict
    checks read: made straight from its JSON and the facts its import normalized, no
    record object between."""
    loads = orjson.loads
    record = loads(data) if isinstance(data, str | bytes) else data
    facts = loads(normalized) if isinstance(normalized, str | bytes) else normalized
    if facts is None:  # stored before the import kept them: normalized now
        return offer_of(from_row(record))
    return stored_offer(record, facts)


def iter_linked_offers(
    connection: sa.Connection, *, chunk: int = 20000
) -> Iterator[tuple[str, Offer]]:
    """:func:`iter_linked_rows`, each made an offer in this process."""
    for global_id, data, normalized in iter_linked_rows(connection, chunk=chunk):
        yield global_id, linked_offer(data, normalized)


def _rows(connection: sa.Connection, statement: sa.Select[Any], chunk: int) -> Iterator[Any]:
    """The rows of ``statement`` as plain tuples, streamed: on SQLite straight from the
    driver's cursor in the caller's transaction (a million rows without a row object
    each), elsewhere through SQLAlchemy's server-side cursor."""
    if connection.dialect.name != "sqlite":
        yield from connection.execute(statement.execution_options(stream_results=True,
                                                                  yield_per=chunk))
        return
    compiled = statement.compile(dialect=connection.dialect)
    params = compiled.construct_params()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), [params[name] for name in compiled.positiontup or ()])
        while part := cursor.fetchmany(chunk):
            yield from part
    finally:
        cursor.close()


def load_records(connection: sa.Connection, keys: Iterable[RecordKey]) -> list[SourceRecord]:
    """The live records among ``keys`` (missing or deleted ones are left out)."""
    found: list[SourceRecord] = []
    for system, ids in by_system(keys, 500):  # the primary key's index (see sync.store.keys)
        rows = connection.execute(
            sa.select(records.c.record).where(
                records.c.system == system, records.c.record_id.in_(ids),
                records.c.deleted.is_(False)))
        found.extend(from_row(data) for (data,) in rows)
    return found


def count_records(connection: sa.Connection) -> dict[str, int]:
    rows = connection.execute(
        sa.select(records.c.system, sa.func.count()).where(records.c.deleted.is_(False))
        .group_by(records.c.system))
    return {system: int(n) for system, n in rows}
