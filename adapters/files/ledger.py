"""Which files were published, by content hash, in the bus database.

:meth:`IngestLedger.stage` records a file's hash and adds all its messages to
the transactional outbox in one transaction: a file is published whole, once.
The same bytes dropped again (a restart before the file was moved, a re-sent
export) find their hash and publish nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bus.db import ensure_tables
from bus.delivery.outbox import add_to_outbox
from bus.envelope import Envelope

__all__ = ["METADATA", "IngestLedger", "ingested"]

METADATA = sa.MetaData()
"""The adapter's own tables, created on start in the bus database."""

ingested = sa.Table(
    "esb_files_ingested", METADATA,
    sa.Column("content_hash", sa.String(64), primary_key=True),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("profile", sa.String(100), nullable=False),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("ingested_at", sa.Float, nullable=False),
)


class IngestLedger:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create_tables(self) -> None:
        ensure_tables(METADATA, self.engine)

    def known(self, content_hash: str) -> bool:
        query = sa.select(sa.literal(1)).where(ingested.c.content_hash == content_hash)
        with self.engine.connect() as connection:
            return connection.scalar(query) is not None

    def stage(self, content_hash: str, file_name: str, profile: str,
              envelopes: Sequence[Envelope]) -> bool:
        """Record the file and stage its messages together; False if it was recorded before."""
        try:
            with self.engine.begin() as connection:
                connection.execute(ingested.insert().values(
                    content_hash=content_hash, file_name=file_name[:255], profile=profile,
                    messages=len(envelopes), ingested_at=time.time()))
                for envelope in envelopes:
                    add_to_outbox(connection, envelope)
        except IntegrityError:
            return False
        return True

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.scalar(sa.select(sa.func.count()).select_from(ingested)) or 0)
