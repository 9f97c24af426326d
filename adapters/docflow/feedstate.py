"""What the docflow change feed remembers, in the bus database.

* ``esb_docflow_feed``: the watermark (the newest ``cmis:lastModificationDate``
  read, in milliseconds) and a lock row;
* ``esb_docflow_published``: per CMIS object id, the modification date last
  published. A document read again (the overlap before the watermark, a
  restart mid-poll, a second process running the feed) is published only if
  it was modified since.

:meth:`FeedState.stage` adds the events to the transactional outbox in the
same transaction that records them as published and advances the watermark:
each change is published exactly once across restarts. The transaction starts
by updating the lock row, so feeds in several processes take turns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from bus.adapters.feedstate import (
    PublishedLedger,
    Watermarks,
    ledger_table,
    watermark_table,
)
from bus.db import ensure_tables
from bus.delivery.outbox import add_to_outbox
from bus.envelope import Envelope

__all__ = ["METADATA", "FeedState"]

METADATA = sa.MetaData()
"""The adapter's own tables, created on start in the bus database."""

feed = watermark_table("esb_docflow_feed", METADATA)
published = ledger_table("esb_docflow_published", METADATA,
                         sa.Column("object_id", sa.String(255), primary_key=True),
                         sa.Column("modified_at", sa.BigInteger, nullable=False))

_WATERMARK = "watermark"

Properties = dict[str, Any]
Build = Callable[[Properties, bool], Envelope | None]
"""``build(properties, known)``: the event of a document (``known``: published before)."""


class FeedState:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.marks = Watermarks(feed)
        self.ledger = PublishedLedger(published, key="object_id", value="modified_at")

    def create_tables(self) -> None:
        ensure_tables(METADATA, self.engine)

    def watermark(self) -> int | None:
        value = self.marks.read(self.engine, _WATERMARK)
        return int(value) if value is not None else None

    def stage(self, documents: Sequence[Properties], build: Build,
              advance: int | None) -> list[Envelope]:
        """Stage the events of documents modified since last published; their envelopes.

        ``build`` returning None skips a document (it is read again next poll).
        The watermark moves to ``advance`` when it is later than the stored one.
        """
        staged: list[Envelope] = []
        with self.engine.begin() as db:
            self.marks.take_turn(db)
            known = {object_id: int(modified) for object_id, modified in self.ledger.known(
                db, [str(d["cmis:objectId"]) for d in documents]).items()}
            for properties in documents:
                object_id = str(properties["cmis:objectId"])
                modified = int(properties.get("cmis:lastModificationDate") or 0)
                before = known.get(object_id)
                if before is not None and before >= modified:
                    continue
                envelope = build(properties, before is not None)
                if envelope is None:
                    continue
                add_to_outbox(db, envelope)
                self.ledger.remember(db, object_id, modified, exists=before is not None)
                known[object_id] = modified
                staged.append(envelope)
            if advance is not None:
                current = self.marks.get(db, _WATERMARK)
                if current is None or int(current) < advance:
                    self.marks.put(db, _WATERMARK, str(advance))
        return staged
