"""Journal writer throughput on SQLite (and PostgreSQL if it answers), against raw driver inserts.

N messages with the payload of ``bench/bus_throughput.py`` (about 1 KB), each
journaled as the bus journals it: a message row and a ``published`` hop when
published, a ``processed`` hop when consumed (1 message row + 2 event rows).

* journal: ``Journal.record_published`` and ``Journal.record`` for every
  message, then ``flush()``; msgs/s is N / (recording + writing). The writer
  thread's own CPU clock gives its CPU per message (masking, keys, rows, SQL).
* raw: the very rows the writer builds, batched as it batches them, inserted
  with the driver alone (sqlite3 ``executemany``; psycopg ``executemany`` on
  PostgreSQL), one transaction per batch. Rows are built before the clock starts.

Prints msgs/s, µs per message and the ratio journal / raw, all from one run.
PostgreSQL is written in a schema of its own, dropped afterwards. Not a test:
nothing is asserted.

    python bench/journal_throughput.py [--count 20000] [--postgres URL | --postgres none]
"""

from __future__ import annotations

import argparse
import socket
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bus.db import create_engine
from bus.envelope import Envelope
from bus.journal import EVENTS, KEYS, MESSAGES, Journal
from bus.journal.keys import KeyExtractor
from bus.journal.rows import RowBuilder
from bus.journal.store import insert_sql
from bus.journal.tables import EVENT_COLUMNS, KEY_COLUMNS, MESSAGE_COLUMNS
from bus.settings import JournalSettings

PAYLOAD_PADDING = "x" * 900  # as in bench/bus_throughput.py
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/esb_test"

Batches = list[tuple[list[Any], list[Any], list[Any]]]


def envelopes(count: int) -> list[Envelope]:
    return [Envelope(type="test.thing.happened.v1", source="bench",
                     payload={"n": str(n), "padding": PAYLOAD_PADDING}) for n in range(count)]


def journal_run(
    engine: sa.Engine, sent: list[Envelope], settings: JournalSettings
) -> dict[str, float]:
    """Record every message as the bus does, wait until written: msgs/s and CPU per message."""
    journal = Journal(engine, settings).start()
    journal.flush(timeout=60)  # tables created, thread idle
    writer = next(t for t in threading.enumerate() if t.name == "esb-journal")
    assert writer.ident is not None
    clock = time.pthread_getcpuclockid(writer.ident)
    cpu = time.clock_gettime(clock)
    started = time.perf_counter()
    for envelope in sent:
        journal.record_published(envelope, TRACE_ID)
    for envelope in sent:
        journal.record(envelope.id, "processed", "bench.queue", 1, 1.5, trace_id=TRACE_ID)
    recorded = time.perf_counter()
    if not journal.flush(timeout=600):
        raise RuntimeError("the journal did not catch up")
    elapsed = time.perf_counter() - started
    cpu = time.clock_gettime(clock) - cpu
    journal.close()
    if journal.dropped or journal.written != 2 * len(sent):
        raise RuntimeError(f"written {journal.written}, dropped {journal.dropped}")
    count = len(sent)
    return {"rate": count / elapsed, "cpu_us": cpu / count * 1e6,
            "record_us": (recorded - started) / count * 1e6}


def batches(sent: list[Envelope], settings: JournalSettings) -> Batches:
    """The rows the writer builds, in its batches (published hops first, as recorded)."""
    records: list[Any] = [(envelope, TRACE_ID, time.time()) for envelope in sent]
    records += [(e.id, "processed", "bench.queue", 1, 1.5, time.time(), None, TRACE_ID)
                for e in sent]
    builder = RowBuilder(settings, KeyExtractor(settings.lookup_fields))
    size = settings.batch_size
    return [builder.build(records[i:i + size]).tables() for i in range(0, len(records), size)]


def timed(rows: Batches, write: Callable[[list[Any], list[Any], list[Any]], None]) -> float:
    started = time.perf_counter()
    for batch in rows:
        write(*batch)
    return time.perf_counter() - started


def raw_sqlite(path: Path, rows: Batches) -> float:
    """sqlite3 ``executemany`` of the rows, one transaction per batch: seconds."""
    engine = create_engine(f"sqlite:///{path}")
    MESSAGES.metadata.create_all(engine, tables=[MESSAGES, EVENTS, KEYS])
    engine.dispose()
    dialect = engine.dialect
    sql = [insert_sql(dialect, MESSAGES, MESSAGE_COLUMNS, skip_conflicts=True),
           insert_sql(dialect, KEYS, KEY_COLUMNS, skip_conflicts=True),
           insert_sql(dialect, EVENTS, EVENT_COLUMNS, skip_conflicts=False)]
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")

    def write(*tables: list[Any]) -> None:
        connection.execute("BEGIN")
        for statement, table_rows in zip(sql, tables, strict=True):
            if table_rows:
                connection.executemany(statement, table_rows)
        connection.execute("COMMIT")

    try:
        return timed(rows, write)
    finally:
        connection.close()


def raw_postgres(engine: sa.Engine, rows: Batches) -> float:
    """psycopg ``executemany`` (pipelined) of the rows, one transaction per batch: seconds."""
    dialect = engine.dialect
    sql = [insert_sql(dialect, MESSAGES, MESSAGE_COLUMNS, skip_conflicts=True,
                      casts={"payload": "::jsonb"}),
           insert_sql(dialect, KEYS, KEY_COLUMNS, skip_conflicts=True),
           insert_sql(dialect, EVENTS, EVENT_COLUMNS, skip_conflicts=False)]
    MESSAGES.metadata.create_all(engine, tables=[MESSAGES, EVENTS, KEYS])
    with engine.connect() as connection:
        driver: Any = connection.connection.driver_connection

        def write(*tables: list[Any]) -> None:
            with driver.cursor() as cursor:
                for statement, table_rows in zip(sql, tables, strict=True):
                    if table_rows:
                        cursor.executemany(statement, table_rows)
            driver.commit()

        return timed(rows, write)


@contextmanager
def postgres_engine(url: str) -> Iterator[sa.Engine]:
    """An engine whose tables land in a fresh schema, dropped afterwards."""
    schema = f"esb_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def answers(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1.0):
            return True
    except OSError:
        return False


def report(name: str, count: int, journal: dict[str, float], raw_seconds: float,
           raw_name: str) -> None:
    raw_rate = count / raw_seconds
    print(f"[{name}] {count} messages of ~1 KB (1 message row + 2 event rows each)")
    print(f"  journal (record + write, writer thread): {journal['rate']:10,.0f} msg/s"
          f"   {1e6 / journal['rate']:6.1f} us/msg   ratio {journal['rate'] / raw_rate:.2f}")
    print(f"    writer thread CPU: {journal['cpu_us']:6.1f} us/msg;"
          f" recording on the caller: {journal['record_us']:5.2f} us/msg")
    print(f"  raw {raw_name + ' of the same rows:':35s}{raw_rate:10,.0f} msg/s"
          f"   {1e6 / raw_rate:6.1f} us/msg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--postgres", default=POSTGRES, help="URL, or 'none' to skip")
    args = parser.parse_args()
    settings = JournalSettings(max_buffer=max(100_000, 3 * args.count))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows = batches(envelopes(args.count), settings)
        raw = raw_sqlite(workdir / "raw.db", rows)
        engine = create_engine(f"sqlite:///{workdir / 'journal.db'}")
        journal = journal_run(engine, envelopes(args.count), settings)
        engine.dispose()
        report("sqlite", args.count, journal, raw, "sqlite3 executemany")
    if args.postgres == "none":
        return
    if not answers(args.postgres):
        print(f"[postgresql] does not answer at {make_url(args.postgres).host}: skipped")
        return
    with postgres_engine(args.postgres) as engine:
        raw = raw_postgres(engine, batches(envelopes(args.count), settings))
    with postgres_engine(args.postgres) as engine:
        journal = journal_run(engine, envelopes(args.count), settings)
    report("postgresql", args.count, journal, raw, "psycopg executemany")


if __name__ == "__main__":
    main()
