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

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from bus.db import ensure_tables
from bus.delivery.outbox import add_to_outbox
from bus.envelope import Envelope

__all__ = ["METADATA", "FeedState"]

METADATA = sa.MetaData()
"""The adapter's own tables, created on start in the bus database."""

feed = sa.Table(
    "esb_docflow_feed", METADATA,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
published = sa.Table(
    "esb_docflow_published", METADATA,
    sa.Column("object_id", sa.String(255), primary_key=True),
    sa.Column("modified_at", sa.BigInteger, nullable=False),
    sa.Column("published_at", sa.Float, nullable=False),
)

_WATERMARK = "watermark"
_LOCK = "lock"

Properties = dict[str, Any]
Build = Callable[[Properties, bool], Envelope | None]
"""``build(properties, known)``: the event of a document (``known``: published before)."""


class FeedState:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create_tables(self) -> None:
        ensure_tables(METADATA, self.engine)

    def watermark(self) -> int | None:
        query = sa.select(feed.c.value).where(feed.c.name == _WATERMARK)
        with self.engine.connect() as connection:
            value = connection.scalar(query)
        return int(value) if value is not None else None

    def stage(self, documents: Sequence[Properties], build: Build,
              advance: int | None) -> list[Envelope]:
        """Stage the events of documents modified since last published; their envelopes.

        ``build`` returning None skips a document (it is read again next poll).
        The watermark moves to ``advance`` when it is later than the stored one.
        """
        staged: list[Envelope] = []
        with self.engine.begin() as db:
            self._put(db, _LOCK, str(time.time()))
            known = self._known(db, [str(d["cmis:objectId"]) for d in documents])
            now = time.time()
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
                self._remember(db, object_id, modified, now, exists=before is not None)
                known[object_id] = modified
                staged.append(envelope)
            if advance is not None:
                current = db.scalar(sa.select(feed.c.value).where(feed.c.name == _WATERMARK))
                if current is None or int(current) < advance:
                    self._put(db, _WATERMARK, str(advance))
        return staged

    @staticmethod
    def _known(db: sa.Connection, ids: Iterable[str]) -> dict[str, int]:
        rows = db.execute(sa.select(published.c.object_id, published.c.modified_at)
                          .where(published.c.object_id.in_(list(ids))))
        return {row.object_id: int(row.modified_at) for row in rows}

    @staticmethod
    def _remember(db: sa.Connection, object_id: str, modified: int, now: float, *,
                  exists: bool) -> None:
        if exists:
            db.execute(published.update().where(published.c.object_id == object_id)
                       .values(modified_at=modified, published_at=now))
        else:
            db.execute(published.insert().values(object_id=object_id, modified_at=modified,
                                                 published_at=now))

    @staticmethod
    def _put(db: sa.Connection, name: str, value: str) -> None:
        now = time.time()
        result = db.execute(feed.update().where(feed.c.name == name)
                            .values(value=value, updated_at=now))
        if result.rowcount == 0:
            db.execute(feed.insert().values(name=name, value=value, updated_at=now))
