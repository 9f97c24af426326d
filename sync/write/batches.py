"""Batches of customers and what each writes: golden rows, look-up keys, conflicts.

Pure functions, the same in this process and in a worker (:mod:`sync.write.pool`):
:func:`build_rows` is what a worker is handed, the stored rows of a batch of customers
as the driver read them, so that decoding them is the worker's work too.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from sync.conflicts import Conflict, conflicts_of_offers
from sync.golden import GoldenParts, Offer, SurvivorshipPlan, golden_parts, offer_of
from sync.model import RecordKey, SourceRecord
from sync.store.golden import GoldenWrites, golden_writes
from sync.store.records import LinkedRow, linked_offer

__all__ = ["Batch", "Built", "RawBatch", "batches_held", "build", "build_rows",
           "offers_of_rows", "raw_batches"]

Batch = list[tuple[str, list[Offer]]]
"""Customers, each with its records as offers sorted by record key."""

RawBatch = tuple[list[str], list[LinkedRow]]
"""A batch's global ids, in order, and their records' stored rows (a customer's together)."""


@dataclass(slots=True)
class Built:
    """What one batch of customers writes, and what the run's events need of it."""

    writes: GoldenWrites
    kept: list[GoldenParts]
    """The golden records of the customers the caller asked to keep (merges cite them)."""
    conflicts: list[Conflict]
    """In-customer conflicts, in the batch's order."""


def batches_held(
    dirty: Sequence[str], members: Mapping[str, Sequence[RecordKey]],
    records: Mapping[RecordKey, SourceRecord], step: int,
) -> Iterator[Batch]:
    """``dirty`` in batches of ``step`` customers, their records looked up in ``records``."""
    for start in range(0, len(dirty), step):
        yield [(gid, sorted(offer_of(records[k]) for k in members[gid] if k in records))
               for gid in dirty[start : start + step]]  # fmt: skip


def raw_batches(rows: Iterable[LinkedRow], dirty: Container[str], step: int
                ) -> Iterator[RawBatch]:  # fmt: skip
    """The rows of the ``dirty`` customers (``rows`` in global-id order, as
    :func:`~sync.store.records.iter_linked_rows` reads them) in batches of ``step``
    customers: a run of a million customers never holds every record at once."""
    gids: list[str] = []
    batch: list[LinkedRow] = []
    current: str | None = None
    take = False
    for row in rows:
        gid = row[0]
        if gid != current:
            current, take = gid, gid in dirty
            if take:
                if len(gids) >= step:
                    yield gids, batch
                    gids, batch = [], []
                gids.append(gid)
        if take:
            batch.append(row)
    if gids:
        yield gids, batch


def offers_of_rows(rows: Iterable[LinkedRow]) -> Batch:
    """Stored rows (a customer's together) as customers with their offers."""
    batch: Batch = []
    current: str | None = None
    offers: list[Offer] = []
    for gid, data, normalized in rows:
        if gid != current:
            if offers:
                offers.sort()
                batch.append((current or "", offers))
            current, offers = gid, []
        offers.append(linked_offer(data, normalized))
    if offers:
        offers.sort()
        batch.append((current or "", offers))
    return batch


def build(batch: Batch, digests: Mapping[str, str], keep: Collection[str],
          plan: SurvivorshipPlan, *, now: float, keep_written: bool) -> Built:
    """Golden records of ``batch`` (written where they differ from ``digests``, the
    stored ones), the ones of ``keep`` and the in-customer conflicts."""
    built = [golden_parts(gid, offers, plan) for gid, offers in batch]
    writes = golden_writes(built, digests, now, keep_written=keep_written)
    kept = [g for g in built if g.global_id in keep] if keep else []
    conflicts: list[Conflict] = []
    for gid, offers in batch:
        if len(offers) > 1:
            conflicts.extend(conflicts_of_offers(gid, offers))
    return Built(writes, kept, conflicts)


def build_rows(rows: list[LinkedRow], digests: Mapping[str, str], keep: Collection[str],
               plan: SurvivorshipPlan, now: float, keep_written: bool) -> Built:
    """:func:`build` of stored rows: a worker's task (module-level: pickled by name)."""
    return build(offers_of_rows(rows), digests, keep, plan, now=now, keep_written=keep_written)
