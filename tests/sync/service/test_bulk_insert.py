"""The big tables' bulk writes: executemany on SQLite, COPY on PostgreSQL, the same rows back."""

from __future__ import annotations

from dataclasses import replace

import orjson
import sqlalchemy as sa

from sync.model import SourceRecord
from sync.store import create_tables
from sync.store.bulk import insert_rows
from sync.store.records import iter_records, upsert_many
from sync.store.tables import golden, records, xref_history

AWKWARD = ["tab\there", "new\nline", "back\\slash", r"\N", "quote ' and \"", "Ёлкина Анна",
           "", "semi;colon,comma", "\\.", "emoji 📞"]


def test_awkward_text_json_nulls_and_numbers_come_back_as_written(store_engine: sa.Engine) -> None:
    """Every value COPY's text format must escape (tabs, newlines, backslashes, a literal
    ``\\N``, the end-of-data marker) arrives as written, NULL stays NULL."""
    create_tables(store_engine)
    history = [("crm", f"CRM-{i}", f"G{i:09d}" if i % 3 else None, None, "linked", "sync",
                text, 1_700_000_000.25 + i) for i, text in enumerate(AWKWARD)]
    values = {"name": "Иванов\t\"Иван\" Иванович", "phones": ["+79123456789"], "note": "a\\b\n"}
    goldens = [(f"G{i:09d}", orjson.dumps({**values, "n": i}).decode(),
                orjson.dumps({"name": {"system": "crm", "id": f"CRM-{i}", "rule": "only_value"}})
                .decode(), f"{i:040d}", 1.5) for i in range(2500)]

    with store_engine.begin() as connection:
        written = insert_rows(connection, xref_history, ("system", "record_id", "global_id",
                              "previous_global_id", "action", "actor", "reason", "at"), history)
        stored = insert_rows(connection, golden, ("global_id", "values", "provenance", "digest",
                             "updated_at"), iter(goldens), batch_size=1000)

    with store_engine.connect() as connection:
        back = connection.execute(sa.select(
            xref_history.c.record_id, xref_history.c.global_id, xref_history.c.reason,
            xref_history.c.at).order_by(xref_history.c.id)).all()
        rows = connection.execute(sa.select(golden).order_by(golden.c.global_id)).all()
    assert (written, stored) == (len(AWKWARD), 2500)
    assert [tuple(row) for row in back] == [(r[1], r[2], r[6], r[7]) for r in history]
    assert [row.values for row in rows] == [{**values, "n": i} for i in range(2500)]
    assert rows[7].provenance == {"name": {"system": "crm", "id": "CRM-7", "rule": "only_value"}}


def test_an_import_batch_upserts_the_same_on_both_databases(store_engine: sa.Engine) -> None:
    """A first batch inserts, a second replaces and counts a version, twice in one
    transaction too; a record repeated within a batch counts each repeat (on PostgreSQL a
    batch this large is COPYed and upserted by one statement, a repeat takes the
    statement-per-row path)."""
    create_tables(store_engine)
    first = [SourceRecord(system="billing", record_id=f"LS-{i}", name=f"Абонент {i}")
             for i in range(1500)]
    renamed = [replace(r, name=f"{r.name} (renamed)") if i % 2 else r
               for i, r in enumerate(first)]
    with store_engine.begin() as connection:
        assert upsert_many(connection, first) == 1500
    with store_engine.begin() as connection:
        assert upsert_many(connection, renamed) == 1500
        assert upsert_many(connection, renamed[:1200]) == 1200
    with store_engine.begin() as connection:
        assert upsert_many(connection, [*renamed[400:], renamed[1499]]) == 1101

    with store_engine.connect() as connection:
        versions = dict(connection.execute(
            sa.select(records.c.record_id, records.c.version)).all())
        stored = {r.record_id: r.name for r in iter_records(connection)}
    assert stored == {r.record_id: r.name for r in renamed}
    assert [versions[f"LS-{i}"] for i in (0, 400, 1199, 1200, 1499)] == [3, 4, 4, 3, 4]
