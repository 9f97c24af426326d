"""The one place a reconciliation's results are written: ids, xref, golden, conflicts, events.

:class:`ResultWriter` takes customers (groups of record keys) with the links and
review pairs that made them, and in the caller's transaction assigns the global
ids (stable by overlap with ``previous``), writes xref and its history, golden
records and conflicts, and stages the events of what changed in the bus's
transactional outbox. Full runs, single changes and people's decisions
(:mod:`sync.service`, :mod:`sync.incremental`) all end here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from bus.delivery.outbox import add_to_outbox
from bus.envelope import Envelope
from bus.schema import SchemaRegistry
from sync import events
from sync.conflicts import Conflict, conflicts_in_customer, review_conflicts
from sync.golden import build_golden, facts_of
from sync.model import PairEvidence, RecordKey, ReviewPair, SourceRecord
from sync.settings import SyncSettings
from sync.store.golden import delete_golden, save_golden
from sync.store.identity import IdentityChanges, assign_ids
from sync.store.queue import close_obsolete, raise_conflicts
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
        records: Mapping[RecordKey, SourceRecord],
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
        reasons = {m.key: events.link_reason(evidence.get(m.key)) for m in changes.moves}
        apply_identity(
            connection, changes, actor=actor, reasons=reasons, batch_size=self.settings.batch_size
        )
        dirty = self.dirty(changes, changed)
        forms = {
            k: facts_of(records[k]) for gid in dirty for k in changes.members[gid] if k in records
        }
        goldens = {
            gid: build_golden(
                gid,
                [records[k] for k in changes.members[gid] if k in records],
                self.settings,
                forms,
            )
            for gid in sorted(dirty)
        }
        delete_golden(connection, changes.retired)
        golden_changes = save_golden(connection, list(goldens.values()), self.settings.batch_size)
        found: list[Conflict] = review_conflicts(review, changes.assignments)
        for gid in sorted(dirty):
            members = changes.members[gid]
            if len(members) > 1:
                found.extend(
                    conflicts_in_customer(gid, [records[k] for k in members if k in records], forms)
                )
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
            golden_changed=len(golden_changes),
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
        for message_type, payload, key in staged:
            self.stage(connection, message_type, payload, key, cause)
            outcome.published.append(message_type)
        outcome.events = len(staged)
        return outcome

    def dirty(self, changes: IdentityChanges, changed: set[RecordKey] | None) -> set[str]:
        """Customers whose golden record and conflicts must be recomputed."""
        if changed is None:
            return set(changes.members)
        dirty = changes.touched | set(changes.new_ids)
        dirty.update(changes.assignments[k] for k in changed if k in changes.assignments)
        return dirty & set(changes.members)

    def stage(
        self,
        connection: sa.Connection,
        message_type: str,
        payload: Mapping[str, Any],
        key: str | None,
        cause: Envelope | None,
    ) -> None:
        if cause is not None:
            envelope = replace(cause.caused(message_type, payload, source=self.source), key=key)
        else:
            envelope = Envelope(type=message_type, payload=payload, source=self.source, key=key)
        self._registry.validate(message_type, envelope.payload)
        add_to_outbox(connection, envelope)


def bump_generation(connection: sa.Connection) -> int:
    """Move the store's generation on (in the caller's transaction); returns the new one."""
    generation = int(read_state(connection, "generation") or 0) + 1
    write_state(connection, "generation", generation)
    return generation
