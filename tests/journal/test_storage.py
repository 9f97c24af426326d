"""How the journal stores rows: sizes, payload text, times, batches of any size, old tables."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus.db import create_engine
from bus.envelope import Envelope, encode
from bus.journal import EVENTS, KEYS, MESSAGES, Journal
from bus.journal.keys import KeyExtractor
from bus.journal.rows import RowBuilder
from bus.journal.store import _chunks
from bus.settings import JournalSettings
from tests.journal.conftest import envelope


def test_the_stored_size_is_the_size_on_the_wire() -> None:
    settings = JournalSettings()
    builder = RowBuilder(settings, KeyExtractor(settings.lookup_fields))
    sent = [
        Envelope(type="a.b.c.v1", source="s",
                 payload={"name": "Иванов", "inn": "7701234567", "l": [1, 2.5, None, True]}),
        Envelope(type="a.b.c.v12", source='s"q', payload={}, key="k", causation_id="c",
                 headers={"traceparent": "00-ab"}, occurred_at=datetime(2030, 1, 1, tzinfo=UTC)),
        Envelope(type="a.b.c.v2", source="s", payload={"t": (1, 2)},
                 occurred_at=datetime(2030, 1, 1, 3, 4, 5, 123,
                                      tzinfo=timezone(timedelta(hours=3)))),
    ]
    for item in sent:
        batch = builder.build([(item, None, 1.0)])
        (row,) = batch.messages.values()
        assert row[8] == len(encode(item))


def test_a_payload_without_pii_and_the_times_come_back_as_they_were(
    journal: Journal, domain: str
) -> None:
    payload = {"name": "Иванов", "nested": {"list": [1, 2.5, None, True, "x"]}, "n": 10**15}
    moment = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    sent = envelope(domain, payload=payload, occurred_at=moment)
    journal.record_published(sent)
    journal.record(sent.id, "processed", "q", latency_ms=0.5)
    assert journal.flush()

    entry = journal.query.get(sent.id)
    assert entry is not None
    assert entry.payload == payload
    assert entry.occurred_at == moment
    data = entry.to_dict()
    assert data["occurred_at"] == "2030-05-06T07:08:09.123456+00:00"
    assert datetime.fromisoformat(data["first_seen_at"]).tzinfo == UTC
    assert [datetime.fromisoformat(e["at"]).tzinfo for e in data["events"]] == [UTC, UTC]
    assert data["events"][1]["latency_ms"] == 0.5


def test_a_batch_of_any_size_is_written_whole(
    engine: sa.Engine, domain: str
) -> None:
    sent = [envelope(domain, payload={"account": f"LS-{n}"}) for n in range(301)]
    with Journal(engine, JournalSettings(batch_size=2000, flush_interval=60)) as journal:
        for item in sent:
            journal.record_published(item)
            journal.record(item.id, "processed", "q")
        assert journal.flush()
        assert journal.written == 602
    ids = [item.id for item in sent]
    with engine.connect() as connection:
        counts = [
            connection.scalar(sa.select(sa.func.count()).select_from(table).where(column.in_(ids)))
            for table, column in ((MESSAGES, MESSAGES.c.id), (KEYS, KEYS.c.message_id),
                                  (EVENTS, EVENTS.c.message_id))
        ]
    assert counts == [301, 301, 602]


def test_statement_sizes_are_powers_of_two_covering_every_row() -> None:
    for count in (0, 1, 2, 127, 128, 129, 301, 1000):
        chunks = list(_chunks(count, 128))
        assert sum(size for _, size in chunks) == count
        assert all(size & (size - 1) == 0 and size <= 128 for _, size in chunks)
        assert [start for start, _ in chunks] == [sum(s for _, s in chunks[:i])
                                                  for i in range(len(chunks))]


def test_tables_of_the_older_layout_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    old = sa.MetaData()
    sa.Table(EVENTS.name, old, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("at", sa.DateTime(timezone=True)))
    old.create_all(engine)
    with caplog.at_level(logging.ERROR, logger="bus.journal"), Journal(engine) as journal:
        journal.flush()
    assert any("older layout" in record.getMessage() for record in caplog.records)
    engine.dispose()
