"""Staging rows to canonical messages, exactly once across restarts.

One poll (:meth:`StagingPoller.poll_once`), inside the staging database's
transaction that holds the claimed rows:

1. map and validate each row; a bad one is marked ``error`` with the reason;
2. in the bus database, record each good row in ``esb_staging_published``
   (table, row id) and add its message to the transactional outbox — both in
   one transaction; rows recorded before are not staged again;
3. mark the rows ``done`` and commit the staging transaction.

When the staging table lives in the bus database, steps 2 and 3 are one
transaction. Otherwise a crash between the two commits leaves rows ``new``
that the ledger already knows: the next poll marks them done and publishes
nothing. A crash before step 2 commits publishes nothing and leaves the rows
for the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from adapters.staging import mapping
from adapters.staging.client import StagingTable
from adapters.staging.settings import StagingSettings
from bus.db import ensure_tables
from bus.delivery.outbox import add_to_outbox
from bus.envelope import Envelope
from bus.errors import SchemaViolation
from bus.masking import mask_text

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["METADATA", "PollResult", "StagingPoller", "published_rows"]

log = logging.getLogger(__name__)

METADATA = sa.MetaData()
"""The adapter's own tables, created on start in the bus database."""

published_rows = sa.Table(
    "esb_staging_published", METADATA,
    sa.Column("source_table", sa.String(200), primary_key=True),
    sa.Column("row_id", sa.String(100), primary_key=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("published_at", sa.Float, nullable=False),
)


@dataclass(frozen=True, slots=True)
class PollResult:
    published: int = 0
    """Rows staged in the outbox by this poll."""
    recovered: int = 0
    """Rows published by an earlier poll that did not get to mark them done."""
    bad: int = 0


class StagingPoller:
    def __init__(self, bus: Bus, settings: StagingSettings, table: StagingTable,
                 *, source: str = "staging") -> None:
        self.bus = bus
        self.settings = settings
        self.table = table
        self.source = source
        self.shared = table.engine is bus.engine
        self.published = 0
        self.last_error: str | None = None
        self.last_poll: float | None = None

    def create_tables(self) -> None:
        ensure_tables(METADATA, self.bus.engine)

    async def run(self, stopping: asyncio.Event) -> None:
        """Poll until ``stopping`` is set; a full batch polls again at once.

        A poll in progress is finished, never abandoned in its thread.
        """
        while not stopping.is_set():
            result = PollResult()
            try:
                result = await asyncio.to_thread(self.poll_once)
                self.last_error = None
                if result.published:
                    self.bus.outbox_relay_poke()
            except Exception as error:  # the loop outlives the legacy database's trouble
                self.last_error = f"{type(error).__name__}: {mask_text(str(error))[:300]}"
                log.warning("staging: poll failed: %s", self.last_error)
            self.last_poll = time.time()
            if sum((result.published, result.recovered, result.bad)) < self.settings.batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.settings.poll_interval)

    def poll_once(self) -> PollResult:
        with self.table.engine.begin() as staging:
            rows = self.table.claim(staging, self.settings.batch_size)
            if not rows:
                return PollResult()
            good: dict[str, tuple[Any, Envelope]] = {}
            bad = 0
            for row in rows:
                row_id = row[self.settings.id_column]
                try:
                    good[str(row_id)] = (row_id, self._envelope(row))
                except (mapping.BadRow, SchemaViolation) as error:
                    self.table.mark(staging, [row_id], self.settings.error_status,
                                    mask_text(str(error))[:1000])
                    bad += 1
            with (contextlib.nullcontext(staging) if self.shared
                  else self.bus.engine.begin()) as db:
                known = self._known(db, list(good))
                fresh = [key for key in good if key not in known]
                now = time.time()
                for key in fresh:
                    envelope = good[key][1]
                    db.execute(published_rows.insert().values(
                        source_table=self.settings.table, row_id=key,
                        message_id=envelope.id, published_at=now))
                    add_to_outbox(db, envelope)
            self.table.mark(staging, [row_id for row_id, _ in good.values()],
                            self.settings.done_status)
        self.published += len(fresh)
        return PollResult(published=len(fresh), recovered=len(good) - len(fresh), bad=bad)

    def _envelope(self, row: sa.RowMapping) -> Envelope:
        payload = mapping.row_payload({str(k): v for k, v in row.items()}, self.settings)
        key = mapping.get_path(payload, self.settings.key) if self.settings.key else None
        envelope = Envelope(type=self.settings.type, payload=payload, source=self.source,
                            key=None if key is None else str(key))
        self.bus.validate(envelope)
        return envelope

    def _known(self, db: sa.Connection, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        query = sa.select(published_rows.c.row_id).where(
            published_rows.c.source_table == self.settings.table,
            published_rows.c.row_id.in_(keys))
        return set(db.scalars(query))
