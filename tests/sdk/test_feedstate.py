"""Watermarks and the published ledger: what a polling feed keeps in the bus database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bus.adapters.feedstate import (
    PublishedLedger,
    Watermarks,
    ledger_table,
    watermark_table,
)

METADATA = sa.MetaData()
marks = watermark_table("sdk_marks", METADATA)
seen = ledger_table("sdk_seen", METADATA, sa.Column("record", sa.String(64), primary_key=True),
                    sa.Column("fields", sa.JSON, nullable=False))


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://")
    METADATA.create_all(engine)
    yield engine
    engine.dispose()


def test_a_watermark_is_absent_until_put_then_moves_with_each_put(engine: sa.Engine) -> None:
    watermarks = Watermarks(marks, prefix="billing")
    assert watermarks.read(engine, "accounts") is None

    with engine.begin() as db:
        watermarks.put(db, "accounts", "2024-03-12 06:00:00")
    with engine.begin() as db:
        watermarks.put(db, "accounts", "2024-03-12 07:00:00")

    assert watermarks.read(engine, "accounts") == "2024-03-12 07:00:00"
    with engine.connect() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(marks)) == 1


def test_feeds_sharing_a_table_keep_their_watermarks_apart_by_prefix(engine: sa.Engine) -> None:
    billing, docflow = Watermarks(marks, prefix="billing"), Watermarks(marks)
    with engine.begin() as db:
        billing.put(db, "watermark", "1")
        docflow.put(db, "watermark", "2")

    assert (billing.read(engine, "watermark"), docflow.read(engine, "watermark")) == ("1", "2")


def test_taking_a_turn_writes_the_lock_row(engine: sa.Engine) -> None:
    watermarks = Watermarks(marks, prefix="billing")
    with engine.begin() as db:
        watermarks.take_turn(db)

    assert watermarks.read(engine, "lock") is not None


def test_the_ledger_knows_what_was_published_and_its_latest_value(engine: sa.Engine) -> None:
    ledger = PublishedLedger(seen, key="record", value="fields")
    with engine.begin() as db:
        ledger.remember(db, "A-1", {"status": "abc"}, exists=False)
        ledger.remember(db, "A-2", {"status": "def"}, exists=False)
    with engine.begin() as db:
        ledger.remember(db, "A-1", {"status": "xyz"}, exists=True)

    with engine.connect() as db:
        assert ledger.known(db, ["A-1", "A-3"]) == {"A-1": {"status": "xyz"}}
