"""Where a batch's golden records are built: in this process, or in worker processes.

:func:`built_batches` yields, batch after batch in order, what each batch of dirty
customers writes (:class:`~sync.write.batches.Built`) with the stored golden records it
replaces. A full run over the store with enough dirty customers streams each batch's
rows to the workers as the driver read them (decoding, survivorship, JSON and digests
are theirs) and reads the next batches while they work; the caller inserts what comes
back. Everything else (records held by the caller: a change or a decision; few
customers; one worker) is built here, by the same functions.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from sync.golden import SurvivorshipPlan
from sync.model import RecordKey, SourceRecord
from sync.store.golden import Stored, stored_golden
from sync.store.records import LinkedRow, iter_linked_rows
from sync.write.batches import (
    Batch,
    Built,
    batches_held,
    build,
    build_rows,
    offers_of_rows,
    raw_batches,
)
from sync.write.pool import OrderedPool, Task

__all__ = ["WriteSettings", "built_batches"]


@dataclass(frozen=True, slots=True)
class WriteSettings:
    """What the stage is asked for, and how it may spread the work."""

    plan: SurvivorshipPlan
    keep: frozenset[str]
    """Customers whose golden record the caller needs back (merges' events cite them)."""
    fresh: bool
    """No golden record is stored yet: none is read back."""
    changes: bool
    """The caller needs the records written (events of what changed)."""
    step: int
    """Customers per batch."""
    workers: int = 1
    parallel_from: int = 0
    """Dirty customers from which the workers build the batches."""


def built_batches(
    connection: sa.Connection,
    settings: WriteSettings,
    dirty: set[str],
    members: Mapping[str, Sequence[RecordKey]],
    records: Mapping[RecordKey, SourceRecord] | None,
) -> Generator[tuple[Stored, Built], None, None]:
    """Each batch of ``dirty`` customers built, in order, with the stored golden records
    it replaces. ``records``: the customers' records held by the caller (None: read from
    the store, the xref as this transaction sees it)."""
    step = settings.step
    if records is not None:
        yield from _here(connection, settings, batches_held(sorted(dirty), members, records,
                                                            step))
        return
    batches = raw_batches(iter_linked_rows(connection), dirty, step)
    if settings.workers < 2 or len(dirty) < max(settings.parallel_from, 1):
        yield from _here(connection, settings, (offers_of_rows(rows) for _ids, rows in batches))
        return
    with OrderedPool[Stored, Built](settings.workers) as pool:
        yield from pool.stream(_tasks(connection, settings, batches))


def _here(connection: sa.Connection, settings: WriteSettings, batches: Iterator[Batch]
          ) -> Iterator[tuple[Stored, Built]]:  # fmt: skip
    for batch in batches:
        stored = _stored(connection, settings, [gid for gid, _offers in batch])
        yield stored, build(batch, _digests(stored), settings.keep, settings.plan,
                            now=time.time(), keep_written=settings.changes)


def _tasks(connection: sa.Connection, settings: WriteSettings,
           batches: Iterator[tuple[list[str], list[LinkedRow]]]) -> Iterator[Task[Stored, Built]]:
    """Each batch's task: its rows as read, the stored digests and which to keep."""
    keep = settings.keep
    for ids, rows in batches:
        stored = _stored(connection, settings, ids)
        kept = [gid for gid in ids if gid in keep] if keep else []
        yield stored, build_rows, (rows, _digests(stored), kept, settings.plan, time.time(),
                                   settings.changes)


def _stored(connection: sa.Connection, settings: WriteSettings, ids: list[str]) -> Stored:
    return {} if settings.fresh else stored_golden(connection, ids)


def _digests(stored: Stored) -> dict[str, str]:
    return {gid: digest for gid, (digest, _values) in stored.items()}
