"""The one place a reconciliation's results are written: ids, xref, golden, conflicts, events.

:class:`ResultWriter` takes customers (groups of record keys) with the links and
review pairs that made them, and in the caller's transaction assigns the global
ids (stable by overlap with ``previous``), writes xref and its history, golden
records and conflicts, and stages the events of what changed in the bus's
transactional outbox. Full runs, single changes and people's decisions
(:mod:`sync.service`, :mod:`sync.incremental`) all end here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from bus.delivery.outbox import add_many_to_outbox
from bus.envelope import Envelope
from bus.schema import SchemaRegistry
from sync import events
from sync.conflicts import Conflict, conflicts_in_customer, review_conflicts
from sync.golden import Facts, GoldenRecord, build_golden, facts_of, survivorship_plan
from sync.model import PairEvidence, RecordKey, ReviewPair, SourceRecord
from sync.settings import SyncSettings
from sync.store.golden import GoldenChange, delete_golden, save_golden
from sync.store.identity import IdentityChanges, assign_ids
from sync.store.queue import close_obsolete, raise_conflicts
from sync.store.records import iter_linked_records
from sync.store.state import read_state, write_state
from sync.store.xref import IdAllocator, apply_identity

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
    ) -> Outcome:
        allocate = IdAllocator(connection)
        changes = assign_ids(groups, previous, allocate)
        evidence = events.evidence_by_record(links)
        reasons = events.link_reasons(changes.moves, evidence)
        apply_identity(
            connection, changes, actor=actor, reasons=reasons, batch_size=self.settings.batch_size
        )
        dirty = self.dirty(changes, changed)
        delete_golden(connection, changes.retired)
        found: list[Conflict] = review_conflicts(review, changes.assignments)
        step = self.settings.batch_size
        parts = (_parts_held(sorted(dirty), records, step) if records is not None
                 else _parts_stored(connection, dirty, step))  # fmt: skip
        goldens, golden_changes, golden_count = self._golden_and_conflicts(
            connection, parts, changes, found,
            keep={merge.global_id for merge in changes.merges}, quiet=quiet,
        )  # fmt: skip
        new_conflicts = raise_conflicts(connection, found)
        close_obsolete(
            connection,
            [c.fingerprint for c in found],
            actor=actor,
            scope=dirty | set(changes.retired),
            review=close_review,
        )
        outcome = Outcome(
            customers=len(changes.members),
            new_customers=len(changes.new_ids),
            moved=sum(1 for m in changes.moves if m.previous),
            merged=len(changes.merges),
            split=len(changes.splits),
            conflicts=len(new_conflicts),
            golden_changed=golden_count,
        )
        staged: list[tuple[str, dict[str, Any], str | None]] = []
        if not quiet:
            staged.extend(
                (
                    "sync.customer.linked.v1",
                    events.customer_linked(m, evidence.get(m.key), reasons[m.key]),
                    m.global_id,
                )
                for m in changes.moves
            )
        for merge in changes.merges:
            mates = [evidence.get(k) for k in changes.members[merge.global_id]]
            staged.append(
                (
                    "sync.customer.merged.v1",
                    events.customer_merged(merge, goldens[merge.global_id], mates),
                    merge.global_id,
                )
            )
        for split in changes.splits:
            reason = (
                "people's decision"
                if actor != self.settings.actor
                else "the evidence no longer holds these records together"
            )
            staged.append(
                (
                    "sync.customer.split.v1",
                    events.customer_split(split, reason, actor),
                    split.global_id,
                )
            )
        staged.extend(
            ("sync.conflict.raised.v1", events.conflict_raised(c), c.conflict.global_id)
            for c in new_conflicts
        )
        if not quiet:
            staged.extend(
                (
                    "sync.customer.updated.v1",
                    events.customer_updated(g.record, g.changed_fields, self.settings.write_back),
                    g.record.global_id,
                )
                for g in golden_changes
            )
        self.stage_many(connection, staged, cause)
        outcome.published.extend(message_type for message_type, _payload, _key in staged)
        outcome.events = len(staged)
        return outcome

    def _golden_and_conflicts(
        self,
        connection: sa.Connection,
        parts: Iterable[_Part],
        changes: IdentityChanges,
        found: list[Conflict],
        *,
        keep: set[str],
        quiet: bool,
    ) -> tuple[dict[str, GoldenRecord], list[GoldenChange], int]:
        """Golden records and in-customer conflicts (into ``found``) of the ``dirty``
        customers, a batch of customers at a time, so that a first run of a million
        customers never holds every golden record and every record's facts at once.
        Returns the golden records of ``keep`` (merges' events cite them), the changes
        (none when ``quiet``: no event cites them) and how many changed."""
        goldens: dict[str, GoldenRecord] = {}
        golden_changes: list[GoldenChange] = []
        count = 0
        step = self.settings.batch_size
        plan = survivorship_plan(self.settings)
        for part, records, known in parts:
            forms = {k: known.get(k) or facts_of(records[k]) for gid in part
                     for k in changes.members[gid] if k in records}  # fmt: skip
            built = []
            for gid in part:
                held = [records[k] for k in changes.members[gid] if k in records]
                built.append(build_golden(gid, held, self.settings, forms, plan))
            saved = save_golden(connection, built, step)
            count += len(saved)
            if not quiet:
                golden_changes.extend(saved)
            goldens.update((g.global_id, g) for g in built if g.global_id in keep)
            for gid in part:
                members = changes.members[gid]
                if len(members) > 1:
                    found.extend(conflicts_in_customer(
                        gid, [records[k] for k in members if k in records], forms))  # fmt: skip
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


_Part = tuple[list[str], Mapping[RecordKey, SourceRecord], Mapping[RecordKey, Facts]]
"""A batch of customers, a mapping that holds their records and what is known of their facts."""


def _parts_held(
    dirty: Sequence[str], records: Mapping[RecordKey, SourceRecord], step: int
) -> Iterator[_Part]:
    """``dirty`` in batches of ``step`` customers, their records looked up in ``records``."""
    for start in range(0, len(dirty), step):
        yield list(dirty[start : start + step]), records, {}


def _parts_stored(
    connection: sa.Connection, dirty: set[str], step: int
) -> Iterator[_Part]:
    """``dirty`` in batches of ``step`` customers with their records read from the store
    (the xref already written in this transaction): a full run of a million customers
    never holds every source record at once. Their facts are the ones the import
    normalized and stored, not normalized again."""
    part: list[str] = []
    held: dict[RecordKey, SourceRecord] = {}
    known: dict[RecordKey, Facts] = {}
    for global_id, record, facts in iter_linked_records(connection):
        if global_id not in dirty:
            continue
        if not part or part[-1] != global_id:
            if len(part) >= step:
                yield part, held, known
                part, held, known = [], {}, {}
            part.append(global_id)
        held[record.key] = record
        if facts is not None:
            known[record.key] = facts
    if part:
        yield part, held, known


def bump_generation(connection: sa.Connection) -> int:
    """Move the store's generation on (in the caller's transaction); returns the new one."""
    generation = int(read_state(connection, "generation") or 0) + 1
    write_state(connection, "generation", generation)
    return generation
