"""The one place a reconciliation's results are written: ids, xref, golden, conflicts, events.

:class:`ResultWriter` takes customers (groups of record keys) with the links and
review pairs that made them, and in the caller's transaction assigns the global
ids (stable by overlap with ``previous``), writes xref and its history, golden
records and conflicts, and stages the events of what changed in the bus's
transactional outbox. Full runs, single changes and people's decisions
(:mod:`sync.service`, :mod:`sync.incremental`) all end here.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from bus.delivery.outbox import add_many_to_outbox
from bus.envelope import Envelope
from bus.schema import SchemaRegistry
from sync import events
from sync.conflicts import Conflict, review_conflicts
from sync.golden import GoldenRecord, survivorship_plan
from sync.match.settings import MatchSettings
from sync.model import PairEvidence, RecordKey, ReviewPair, SourceRecord
from sync.settings import SyncSettings
from sync.store.golden import GoldenChange, Stored, delete_golden, has_golden, write_golden
from sync.store.golden import golden_changes as golden_changes_of
from sync.store.identity import IdentityChanges, assign_ids
from sync.store.queue import (
    StoredConflict,
    close_obsolete,
    index_review_conflicts,
    raise_conflicts,
)
from sync.store.state import read_state, write_state
from sync.store.xref import IdAllocator, apply_identity
from sync.write import Built, WriteSettings, built_batches

__all__ = ["Outcome", "ResultWriter", "bump_generation"]


@dataclass(slots=True)
class Outcome:
    """What one run, change or resolution did."""

    records: int = 0
    customers: int = 0
    new_customers: int = 0
    moved: int = 0
    merged: int = 0
    split: int = 0
    conflicts: int = 0
    golden_changed: int = 0
    events: int = 0
    seconds: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if name != "published"}


class ResultWriter:
    """Writes results for one synchronizer (its settings, event source and schemas)."""

    def __init__(self, settings: SyncSettings, source: str, registry: SchemaRegistry) -> None:
        self.settings = settings
        self.source = source
        self._registry = registry

    def commit(
        self,
        connection: sa.Connection,
        *,
        groups: Iterable[Sequence[RecordKey]],
        previous: Mapping[RecordKey, str],
        records: Mapping[RecordKey, SourceRecord] | None,
        links: Sequence[PairEvidence],
        review: Sequence[ReviewPair],
        changed: set[RecordKey] | None,
        actor: str,
        cause: Envelope | None,
        quiet: bool,
        close_review: bool,
        review_of: Collection[RecordKey] | None = None,
    ) -> Outcome:
        """Persist one reconciliation's results (see the module's docstring).

        ``close_review``: ``review`` lists every review pair there is (a full run): the
        open review conflicts not among them are closed. ``review_of``: ``review`` lists
        every review pair of these records (a change's scope): theirs are closed when
        not among them, each closure audited.
        """
        with _page_cache(connection, _FULL_RUN_CACHE_MIB if close_review else 0):
            changes = assign_ids(groups, previous, IdAllocator(connection))
            evidence = events.evidence_by_record(links)
            reasons = events.link_reasons(changes.moves, evidence)
            apply_identity(connection, changes, actor=actor, reasons=reasons,
                           batch_size=self.settings.batch_size)
            dirty = self.dirty(changes, changed)
            delete_golden(connection, changes.retired)
            found: list[Conflict] = review_conflicts(review, changes.assignments)
            stage = self._write_settings(
                keep=frozenset(merge.global_id for merge in changes.merges), quiet=quiet,
                fresh=close_review and not has_golden(connection))
            goldens, golden_changes, golden_count = self._golden_and_conflicts(
                connection, built_batches(connection, stage, dirty, changes.members, records),
                found)
            new_conflicts = raise_conflicts(connection, found)
            close_obsolete(connection, [c.fingerprint for c in found], actor=actor,
                           scope=dirty | set(changes.retired), review=close_review,
                           review_of=review_of, owner=changes.assignments,
                           gone=changes.unlinked)
            if close_review:
                index_review_conflicts(connection)
            staged = self._events(changes, evidence, reasons, goldens, golden_changes,
                                  new_conflicts, actor=actor, quiet=quiet)
            self.stage_many(connection, staged, cause)
        return Outcome(
            customers=len(changes.members), new_customers=len(changes.new_ids),
            moved=sum(1 for m in changes.moves if m.previous), merged=len(changes.merges),
            split=len(changes.splits), conflicts=len(new_conflicts),
            golden_changed=golden_count, events=len(staged),
            published=[message_type for message_type, _payload, _key in staged])

    def _events(
        self,
        changes: IdentityChanges,
        evidence: Mapping[RecordKey, PairEvidence],
        reasons: Mapping[RecordKey, str],
        goldens: Mapping[str, GoldenRecord],
        golden_changes: Sequence[GoldenChange],
        new_conflicts: Sequence[StoredConflict],
        *,
        actor: str,
        quiet: bool,
    ) -> list[tuple[str, dict[str, Any], str | None]]:
        """What to publish, in order: links (not when ``quiet``), merges, splits, raised
        conflicts, changed golden records (not when ``quiet``)."""
        staged: list[tuple[str, dict[str, Any], str | None]] = []
        if not quiet:
            staged.extend(("sync.customer.linked.v1",
                           events.customer_linked(m, evidence.get(m.key), reasons[m.key]),
                           m.global_id) for m in changes.moves)  # fmt: skip
        for merge in changes.merges:
            mates = [evidence.get(k) for k in changes.members[merge.global_id]]
            staged.append(("sync.customer.merged.v1",
                           events.customer_merged(merge, goldens[merge.global_id], mates),
                           merge.global_id))  # fmt: skip
        reason = ("people's decision" if actor != self.settings.actor
                  else "the evidence no longer holds these records together")  # fmt: skip
        staged.extend(("sync.customer.split.v1", events.customer_split(split, reason, actor),
                       split.global_id) for split in changes.splits)  # fmt: skip
        staged.extend(("sync.conflict.raised.v1", events.conflict_raised(c),
                       c.conflict.global_id) for c in new_conflicts)  # fmt: skip
        if not quiet:
            staged.extend(("sync.customer.updated.v1",
                           events.customer_updated(g.record, g.changed_fields,
                                                   self.settings.write_back),
                           g.parts.global_id) for g in golden_changes)  # fmt: skip
        return staged

    def _write_settings(self, *, keep: frozenset[str], quiet: bool, fresh: bool
                        ) -> WriteSettings:  # fmt: skip
        """How the golden records are built: in as many processes as the match uses
        (``MatchSettings.workers``) once the dirty customers reach its ``parallel_from``."""
        match = MatchSettings(**self.settings.match)
        return WriteSettings(
            survivorship_plan(self.settings), keep, fresh=fresh, changes=not quiet,
            step=self.settings.batch_size, workers=match.workers,
            parallel_from=match.parallel_from)

    def _golden_and_conflicts(
        self,
        connection: sa.Connection,
        batches: Generator[tuple[Stored, Built], None, None],
        found: list[Conflict],
    ) -> tuple[dict[str, GoldenRecord], list[GoldenChange], int]:
        """Golden records and in-customer conflicts (into ``found``) of the dirty
        customers, a batch of customers at a time, so that a first run of a million
        customers never holds every golden record and every record at once; each batch's
        rows are inserted as they come (:mod:`sync.write`: built here or by workers).
        Returns the golden records the stage was asked to keep (merges' events cite them),
        the changes (none when quiet: no event cites them) and how many changed."""
        goldens: dict[str, GoldenRecord] = {}
        golden_changes: list[GoldenChange] = []
        count = 0
        with closing(batches):
            for stored, built in batches:
                write_golden(connection, built.writes, self.settings.batch_size)
                count += built.writes.count
                golden_changes.extend(golden_changes_of(built.writes.written, stored))
                goldens.update((g.global_id, g.record()) for g in built.kept)
                found.extend(built.conflicts)
        return goldens, golden_changes, count

    def dirty(self, changes: IdentityChanges, changed: set[RecordKey] | None) -> set[str]:
        """Customers whose golden record and conflicts must be recomputed."""
        if changed is None:
            return set(changes.members)
        dirty = changes.touched | set(changes.new_ids)
        dirty.update(changes.assignments[k] for k in changed if k in changes.assignments)
        return dirty & set(changes.members)

    def stage_many(
        self,
        connection: sa.Connection,
        staged: Sequence[tuple[str, Mapping[str, Any], str | None]],
        cause: Envelope | None,
    ) -> None:
        """Validate each ``(type, payload, key)`` once and stage them all in one insert."""
        envelopes = []
        for message_type, payload, key in staged:
            if cause is not None:
                envelope = replace(
                    cause.caused(message_type, payload, source=self.source), key=key
                )
            else:
                envelope = Envelope(type=message_type, payload=payload, source=self.source, key=key)
            self._registry.validate(message_type, envelope.payload)
            envelopes.append(envelope)
        add_many_to_outbox(connection, envelopes)


_FULL_RUN_CACHE_MIB = 128
"""SQLite's page cache while a full run writes (its default is 2 MiB): a first run of a
million accounts inserts ten million index entries in random order, and with the default
nearly each one is a page read back from the OS; 128 MiB took a third off the inserts."""


@contextmanager
def _page_cache(connection: sa.Connection, mib: int) -> Iterator[None]:
    """SQLite's page cache of ``connection`` at ``mib`` MiB in the block, as it was after
    (nothing on another database, or when ``mib`` is 0)."""
    if not mib or connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar() or -2000)
    connection.exec_driver_sql(f"PRAGMA cache_size = {-mib * 1024}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {before}")


def bump_generation(connection: sa.Connection) -> int:
    """Move the store's generation on (in the caller's transaction); returns the new one."""
    generation = int(read_state(connection, "generation") or 0) + 1
    write_state(connection, "generation", generation)
    return generation
