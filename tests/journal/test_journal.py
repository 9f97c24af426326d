"""The message journal on SQLite and PostgreSQL: what is written, and how it is found."""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bus.db import create_engine
from bus.journal import EVENTS, KEYS, MESSAGES, Journal, JournalQuery
from bus.settings import JournalSettings
from bus.telemetry import Metrics, Tracing
from tests.journal.conftest import envelope


def random_phone(rng: random.Random) -> str:
    return "+7916" + "".join(rng.choice("0123456789") for _ in range(7))


def test_a_message_is_found_by_id_with_every_hop_it_made(journal: Journal, domain: str) -> None:
    sent = envelope(domain, key="acc-1")
    trace = "0af7651916cd43dd8448eb211c80319c"
    journal.record_published(sent, trace)
    journal.record(sent.id, "delivered", "crm.calls", 1, trace_id=trace)
    journal.record(sent.id, "retried", "crm.calls", 1, 12.5, "ExternalSystemUnavailable: 503",
                   trace)
    journal.record(sent.id, "processed", "crm.calls", 2, 3.25, trace_id=trace)
    assert journal.flush()

    entry = journal.query.get(sent.id)
    assert entry is not None
    assert (entry.type, entry.source, entry.key) == (sent.type, "test", "acc-1")
    assert entry.correlation_id == sent.id
    assert entry.occurred_at == sent.occurred_at
    assert entry.size > 0
    assert [e.status for e in entry.events] == ["published", "delivered", "retried", "processed"]
    assert [e.attempt for e in entry.events] == [1, 1, 1, 2]
    assert entry.events[2].latency_ms == 12.5
    assert entry.events[2].detail == "ExternalSystemUnavailable: 503"
    assert {e.trace_id for e in entry.events} == {trace}
    assert entry.events[1].subscriber == "crm.calls"
    assert entry.status == "processed"
    assert entry.to_dict()["events"][3]["status"] == "processed"


def test_a_message_seen_twice_keeps_one_row_and_both_hops(
    journal: Journal, engine: sa.Engine, domain: str
) -> None:
    sent = envelope(domain, payload={"phone": "+79160000001"})
    journal.record_published(sent)
    journal.record_published(sent)
    assert journal.flush()
    journal.record(sent.id, "processed", "q", envelope=sent)
    journal.record(sent.id, "processed", "q2", envelope=sent)
    assert journal.flush()

    with engine.connect() as connection:
        rows = connection.scalar(
            sa.select(sa.func.count()).select_from(MESSAGES).where(MESSAGES.c.id == sent.id))
        keys = connection.scalar(
            sa.select(sa.func.count()).select_from(KEYS).where(KEYS.c.message_id == sent.id))
    assert (rows, keys) == (1, 1)
    entry = journal.query.get(sent.id)
    assert entry is not None
    assert [e.status for e in entry.events] == ["published", "published", "processed", "processed"]


def test_a_consumer_can_journal_a_message_published_elsewhere(
    journal: Journal, domain: str
) -> None:
    arrived = envelope(domain, payload={"account": "LS-1"})
    journal.record(arrived.id, "delivered", "billing.payments", envelope=arrived)
    assert journal.flush()
    entry = journal.query.get(arrived.id)
    assert entry is not None
    assert [e.status for e in entry.events] == ["delivered"]
    assert entry.keys == (("account", "LS-1"),)


def test_a_conversation_is_found_by_correlation_id(journal: Journal, domain: str) -> None:
    first = envelope(domain, "ringing")
    second = first.caused(f"{domain}.thing.answered.v1", {}, "pbx")
    third = second.caused(f"{domain}.thing.ended.v1", {}, "pbx")
    unrelated = envelope(domain, "ringing")
    for sent in (first, second, third, unrelated):
        journal.record_published(sent)
    assert journal.flush()

    page = journal.query.search(correlation_id=first.id)
    assert {entry.id for entry in page} == {first.id, second.id, third.id}
    by_id = {entry.id: entry for entry in page}
    assert by_id[third.id].causation_id == second.id


def test_search_by_type_and_by_type_prefix(journal: Journal, domain: str) -> None:
    for event in ("created", "created", "deleted"):
        journal.record_published(envelope(domain, event))
    journal.record_published(envelope(domain + "x", "created"))
    assert journal.flush()

    assert len(journal.query.search(type=f"{domain}.thing.created.v1")) == 2
    assert len(journal.query.search(type_prefix=f"{domain}.")) == 3
    assert len(journal.query.search(type_prefix=f"{domain}.thing.del")) == 1
    assert len(journal.query.search(type_prefix=f"{domain}%")) == 0  # no wildcards


def test_a_phone_is_found_in_any_spelling_even_when_masked_in_the_payload(
    engine: sa.Engine, domain: str
) -> None:
    settings = JournalSettings(batch_size=10, flush_interval=0.02, mask_phones=True)
    phone = random_phone(random.Random())
    national = f"8 ({phone[2:5]}) {phone[5:8]}-{phone[8:10]}-{phone[10:]}"
    with Journal(engine, settings) as journal:
        call = envelope(domain, payload={"call": {"caller": phone, "called": "101"}})
        journal.record_published(call)
        journal.record_published(envelope(domain, payload={"caller": "+79990000000"}))
        assert journal.flush()
        query = journal.query

    for key in (("phone", phone), ("phone", national), phone, national.replace(" ", "")):
        page = query.search(key=key)
        assert [entry.id for entry in page] == [call.id], key
    entry = query.get(call.id)
    assert entry is not None
    assert entry.payload["call"]["caller"] == phone[:5] + "***" + phone[-4:]
    assert ("phone", phone) in entry.keys
    assert ("phone", "101") in entry.keys


def test_accounts_and_customer_ids_are_found_at_any_depth_and_spelling(
    journal: Journal, domain: str
) -> None:
    suffix = domain[1:]
    sent = envelope(domain, payload={
        "customer": {"partyId": f"P-{suffix}", "accounts": [{"accountNumber": f"A-{suffix}"}]},
    })
    journal.record_published(sent)
    assert journal.flush()

    assert [e.id for e in journal.query.search(key=("customer_id", f"P-{suffix}"))] == [sent.id]
    assert [e.id for e in journal.query.search(key=("account", f"A-{suffix}"))] == [sent.id]
    assert [e.id for e in journal.query.search(key=f"A-{suffix}")] == [sent.id]
    assert len(journal.query.search(key=("account", f"P-{suffix}"))) == 0


def test_pii_is_masked_in_the_stored_payload_and_the_inn_is_kept_only_as_a_hash(
    journal: Journal, engine: sa.Engine, domain: str
) -> None:
    rng = random.Random()
    inn = "".join(rng.choice("0123456789") for _ in range(12))
    number = "".join(rng.choice("0123456789") for _ in range(6))
    sent = envelope(domain, payload={
        "customer": {"inn": inn, "passport": f"4509 {number}", "name": "Иванов"},
    })
    journal.record_published(sent)
    journal.record(sent.id, "dead_lettered", "crm", 5,
                   detail=f"SchemaViolation: customer with ИНН {inn}, паспорт 4509 {number}")
    assert journal.flush()

    entry = journal.query.get(sent.id)
    assert entry is not None
    assert entry.payload["customer"]["inn"] == inn[:2] + "*" * 8 + inn[-2:]
    assert entry.payload["customer"]["passport"] == f"45** ****{number[-2:]}"
    assert entry.payload["customer"]["name"] == "Иванов"
    assert [e.id for e in journal.query.search(key=("inn", inn))] == [sent.id]
    with engine.connect() as connection:  # this message's rows (the database is shared)
        dump = repr([
            connection.execute(sa.select(MESSAGES).where(MESSAGES.c.id == sent.id)).all(),
            connection.execute(sa.select(EVENTS).where(EVENTS.c.message_id == sent.id)).all(),
            connection.execute(sa.select(KEYS).where(KEYS.c.message_id == sent.id)).all(),
        ])
    assert inn not in dump
    assert number not in dump


def test_status_filter_finds_messages_that_made_such_a_hop(journal: Journal, domain: str) -> None:
    ok, failed = envelope(domain), envelope(domain)
    for sent in (ok, failed):
        journal.record_published(sent)
    journal.record(ok.id, "processed", "q")
    journal.record(failed.id, "dead_lettered", "q", 5, detail="PermanentError")
    assert journal.flush()
    page = journal.query.search(type_prefix=f"{domain}.", status="dead_lettered")
    assert [entry.id for entry in page] == [failed.id]


def test_since_and_until_select_by_when_it_happened(journal: Journal, domain: str) -> None:
    start = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    sent = [envelope(domain, occurred_at=start + timedelta(minutes=i)) for i in range(5)]
    for item in sent:
        journal.record_published(item)
    assert journal.flush()

    moscow = start.astimezone(datetime.fromisoformat("2030-01-01T00:00+03:00").tzinfo)
    page = journal.query.search(type_prefix=f"{domain}.", since=moscow + timedelta(minutes=1),
                                until=start + timedelta(minutes=3))
    assert [entry.id for entry in page] == [sent[2].id, sent[1].id]


def test_pages_follow_each_other_newest_first_without_gaps(journal: Journal, domain: str) -> None:
    same_moment = datetime.now(UTC).replace(microsecond=0)
    sent = [envelope(domain, occurred_at=same_moment - timedelta(seconds=i % 4))
            for i in range(23)]
    for item in sent:
        journal.record_published(item)
    assert journal.flush()

    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = journal.query.search(type_prefix=f"{domain}.", limit=5, after_cursor=cursor)
        seen += [entry.id for entry in page]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    expected = sorted(sent, key=lambda e: (e.occurred_at, e.id), reverse=True)
    assert seen == [e.id for e in expected]


def test_an_unknown_status_is_refused_at_once(journal: Journal) -> None:
    with pytest.raises(ValueError, match="unknown journal status"):
        journal.record("m-1", "lost", "q")  # type: ignore[arg-type]


def test_a_full_buffer_drops_and_counts_instead_of_blocking(
    engine: sa.Engine, domain: str, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    journal = Journal(engine, JournalSettings(max_buffer=10), metrics=metrics)  # not started
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="bus.journal"):
        for _ in range(25):
            journal.record_published(envelope(domain))
    assert time.perf_counter() - started < 0.5
    assert journal.dropped == 15
    assert b"esb_journal_records_dropped_total 15.0" in metrics.render()
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1

    journal.start()
    assert journal.flush()
    journal.close()
    assert journal.written == 10
    assert len(journal.query.search(type_prefix=f"{domain}.")) == 10


def test_a_row_the_database_refuses_is_dropped_and_the_rest_of_the_batch_written(
    journal: Journal, domain: str
) -> None:
    good, bad = envelope(domain), envelope(domain, source=None)  # NOT NULL column
    journal.record_published(good)
    journal.record_published(bad)
    journal.record(good.id, "processed", "q")
    assert journal.flush()
    assert journal.dropped == 1
    entry = journal.query.get(good.id)
    assert entry is not None and entry.status == "processed"
    assert journal.query.get(bad.id) is None


def test_an_unreachable_database_never_blocks_the_bus(domain: str) -> None:
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/nowhere",
                           connect_args={"connect_timeout": 1})
    journal = Journal(engine, JournalSettings(flush_interval=0.02)).start()
    started = time.perf_counter()
    for _ in range(1000):
        journal.record_published(envelope(domain))
    assert time.perf_counter() - started < 0.5
    assert not journal.flush(timeout=0.3)
    journal.close(timeout=10)
    assert journal.dropped == 1000
    assert journal.written == 0
    engine.dispose()


def test_close_writes_what_is_still_buffered(engine: sa.Engine, domain: str) -> None:
    journal = Journal(engine, JournalSettings(batch_size=1000, flush_interval=60)).start()
    sent = [envelope(domain) for _ in range(30)]
    for item in sent:
        journal.record_published(item)
    journal.close()
    assert len(JournalQuery(engine).search(type_prefix=f"{domain}.")) == 30


def test_each_hop_carries_the_trace_id_of_its_span(journal: Journal, domain: str) -> None:
    tracing = Tracing()  # exporter "none": nothing recorded, ids still propagate
    sent = envelope(domain)
    with tracing.publish_span(sent, "esb.events") as published:
        sent = sent.with_headers(**published.headers)
        journal.record_published(sent, published.trace_id)
    with tracing.consume_span(sent, "crm.calls") as consumed:
        journal.record(sent.id, "processed", "crm.calls", latency_ms=1.0,
                       trace_id=consumed.trace_id)
    assert journal.flush()
    entry = journal.query.get(sent.id)
    assert entry is not None
    assert [e.trace_id for e in entry.events] == [published.trace_id] * 2
