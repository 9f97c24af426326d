"""The synchronizer as a service: import, full reconciliation, incremental changes, decisions.

Every path ends in :meth:`sync.commit.ResultWriter.commit`, one transaction that
writes the global ids, xref and its history, golden records and conflicts, and
stages the events of what changed in the bus's transactional outbox (the tables
share the bus's database, so the events leave exactly when the change commits).

* :meth:`SyncService.run`: every record through the engine; ids stay stable by overlap
  (its steps are in :mod:`sync.fullrun`).
* :meth:`SyncService.apply`: one change; the in-memory :class:`~sync.match.Matcher`
  re-scores its blocks and only the customers around it are rewritten.
* :meth:`SyncService.resolve`: a person's answer to a conflict becomes must-link or
  cannot-link decisions, kept for every later run, and the customers involved are redone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bus import db as bus_db
from bus.envelope import Envelope
from bus.schema import default_registry
from sync.canonical import RecordChange, canonical_record
from sync.commit import Outcome, ResultWriter, bump_generation
from sync.conflicts import DECISIONS, Resolution, decision_pairs
from sync.fullrun import (
    Matched,
    StoreChanged,
    finish_run,
    load_state,
    match_stored,
    partitions_matched,
)
from sync.golden import GoldenRecord, build_golden
from sync.hold import RunHold
from sync.incremental import apply_result
from sync.match import Matcher, MatchSettings, collector_paused, reconcile
from sync.model import RecordKey, SourceRecord
from sync.partition import forget_run, plan_partitions, write_plan
from sync.settings import SyncSettings
from sync.sources import read_directory
from sync.store import create_tables
from sync.store.identity import group_clusters
from sync.store.queue import (
    add_decisions,
    close_conflict,
    get_conflict,
    load_decisions,
    parse_conflict_id,
    record_audit,
)
from sync.store.records import (
    is_live,
    is_stored,
    load_records,
    mark_deleted,
    upsert_many,
    upsert_one,
)
from sync.store.state import read_state
from sync.store.xref import members_of, xref_of

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["Outcome", "SyncService"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


class SyncService:
    """The synchronizer's state and operations over one SQL engine (the bus's database)."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: SyncSettings | None = None,
        *,
        source: str = "sync",
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or SyncSettings()
        self.source = source
        self.on_commit = on_commit
        bus_db.create_tables(engine)  # the outbox the events leave through
        create_tables(engine)
        self._lock = threading.RLock()
        self._matcher: Matcher | None = None
        self._generation: int | None = None
        """The store's generation the matcher reflects; another process's commit moves it."""
        self._writer = ResultWriter(self.settings, source, default_registry())

    @property
    def settle_seconds(self) -> float:
        """How long a run from another process than ``esb run`` waits, holding the store,
        for the incremental consumers to see the hold and pause (one and a half looks)."""
        return 1.5 * self.settings.hold_poll_seconds

    @property
    def match_settings(self) -> MatchSettings:
        return MatchSettings(**self.settings.match)

    # -- import ------------------------------------------------------------------

    def import_records(
        self, records: Iterable[SourceRecord], *, progress: Progress | None = None
    ) -> dict[str, int]:
        """Store ``records`` as received (bulk upserts); returns counts per system."""
        counts: dict[str, int] = {}
        batch: list[SourceRecord] = []

        def flush() -> None:
            with self.engine.begin() as connection:
                upsert_many(connection, batch)
                bump_generation(connection)
            if progress is not None:
                progress("import", len(batch))
            batch.clear()

        with self._lock, collector_paused():
            for record in records:
                record = canonical_record(record)
                counts[record.system] = counts.get(record.system, 0) + 1
                batch.append(record)
                if len(batch) >= self.settings.batch_size:
                    flush()
            if batch:
                flush()
            self._matcher = None
        return counts

    def import_directory(
        self, directory: Path | str, *, docflow: bool = True, progress: Progress | None = None
    ) -> dict[str, int]:
        """Load a directory in the generator's format (CRM, billing, docflow CSV)."""
        return self.import_records(read_directory(directory, docflow=docflow), progress=progress)

    # -- full reconciliation -----------------------------------------------------

    def run(
        self,
        *,
        actor: str | None = None,
        progress: Progress | None = None,
        keep_engine: bool = True,
        settle: float = 0.0,
    ) -> Outcome:
        """Reconcile every stored record and persist what changed (see :mod:`sync.fullrun`).

        ``keep_engine``: keep the engine's state for the changes that follow in this
        process (:meth:`apply` then needs no rebuild). A one-shot ``esb sync run`` lets
        it go before the write stage, which then reuses the memory its blocks, scored
        pairs and index held (at 200k accounts the run's peak is 170 MB lower).

        A run writes only onto the store it matched: when another process commits an
        import, change or decision meanwhile, that attempt writes nothing and the run
        matches again, up to ``SyncSettings.run_attempts`` times (then
        :class:`~sync.fullrun.StoreChanged`). While it runs it holds the store
        (:mod:`sync.hold`): the incremental consumers of ``esb run`` let changes wait.
        ``settle``: seconds to give them, once the hold is taken, to notice it and pause
        before the run reads the store (``esb sync run``: :attr:`settle_seconds`).
        """
        with RunHold(self.engine, self.settings.run_hold_seconds):
            time.sleep(settle)
            for attempt in range(1, self.settings.run_attempts + 1):
                try:
                    return self._run_once(actor=actor, progress=progress,
                                          keep_engine=keep_engine)
                except StoreChanged as changed:
                    if attempt == self.settings.run_attempts:
                        raise
                    log.warning("full run, attempt %d of %d: %s", attempt,
                                self.settings.run_attempts, changed)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _run_once(
        self, *, actor: str | None, progress: Progress | None, keep_engine: bool
    ) -> Outcome:
        began = time.perf_counter()
        with self._lock, collector_paused():
            self._matcher = None  # the last state is not held while the next is built
            loaded = load_state(self.engine, with_records=False)
            if progress is not None:
                progress("load", 0)
            matcher = match_stored(self.engine, self.match_settings, loaded.decisions)
            matched = Matched.of(matcher.result())
            kept = matcher if keep_engine else None
            del matcher  # unless kept, its blocks and scored pairs go before the write stage
            if progress is not None:
                progress("match", matched.count)
            outcome, self._generation = finish_run(
                self._writer, self.engine, loaded, matched, actor=actor or self.settings.actor,
                began=began, publish_initial=self.settings.publish_initial_links,
            )  # fmt: skip
            self._matcher = kept
        self._committed()
        if progress is not None:
            progress("persist", outcome.records)
        return outcome

    async def run_partitioned(
        self, bus: Bus, partitions: int, *, actor: str | None = None, timeout: float = 600.0,
        settle: float = 0.0,
    ) -> Outcome:
        """A full run whose match step is done by workers on the bus, one partition each
        (see :mod:`sync.partition`); persisted exactly as :meth:`run` persists, holding
        the store as :meth:`run` does."""
        with RunHold(self.engine, self.settings.run_hold_seconds):
            await asyncio.sleep(settle)
            return await self._run_partitioned(bus, partitions, actor=actor, timeout=timeout)

    async def _run_partitioned(
        self, bus: Bus, partitions: int, *, actor: str | None, timeout: float
    ) -> Outcome:
        began = time.perf_counter()
        loaded = await asyncio.to_thread(load_state, self.engine, with_records=True)
        records = loaded.records or {}
        planned = plan_partitions(
            list(records.values()), loaded.decisions, self.match_settings, partitions
        )
        run_id = f"R{time.time_ns():x}"
        with self.engine.begin() as connection:
            write_plan(connection, run_id, planned)
        for number, members in enumerate(planned):
            await bus.emit(
                "sync.partition.requested.v1",
                {
                    "run_id": run_id,
                    "partition": number,
                    "partitions": len(planned),
                    "records": len(members),
                },
                source=self.source,
            )
        matched = await partitions_matched(self.engine, run_id, len(planned), timeout)
        matched.count = len(records)

        def finish() -> Outcome:
            with self._lock:
                outcome, self._generation = finish_run(
                    self._writer, self.engine, loaded, matched,
                    actor=actor or self.settings.actor, began=began,
                    publish_initial=self.settings.publish_initial_links,
                )  # fmt: skip
                with self.engine.begin() as connection:
                    forget_run(connection, run_id)
                self._matcher = None
            return outcome

        outcome = await asyncio.to_thread(finish)
        self._committed()
        return outcome

    # -- incremental -------------------------------------------------------------

    def apply(
        self,
        change: RecordChange,
        *,
        cause: Envelope | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Apply one record's change: store it, re-match its neighbourhood, persist, publish.

        The record and everything it changed are written in one transaction: a failure
        leaves nothing behind, so the bus's retry does the whole change again.
        """
        began = time.perf_counter()
        record = canonical_record(change.record)
        with self._lock:
            with self.engine.connect() as connection:
                if read_state(connection, "generation") != self._generation:
                    self._matcher = None  # another process changed the store: rebuild
                news = (
                    is_live(connection, record.key)
                    if change.deleted
                    else not is_stored(connection, record)
                )
            if not news:
                return Outcome(seconds=round(time.perf_counter() - began, 3))
            matcher = self._ensure_matcher()
            try:
                affected = matcher.remove(record.key) if change.deleted else matcher.upsert(record)
                with self.engine.begin() as connection:
                    if change.deleted:
                        mark_deleted(connection, record.key)
                    else:
                        upsert_one(connection, record, raw)
                    outcome = apply_result(
                        self._writer, connection, matcher, affected, record.key, cause
                    )
                    generation = bump_generation(connection)
                self._generation = generation
            except BaseException:
                self._matcher = None  # memory may be ahead of the store: rebuild next time
                raise
        self._committed()
        outcome.seconds = round(time.perf_counter() - began, 3)
        return outcome

    def _ensure_matcher(self) -> Matcher:
        """The in-memory engine state, built from the store when missing or stale."""
        if self._matcher is None:
            with self.engine.connect() as connection:
                decisions = load_decisions(connection)
            self._matcher = match_stored(self.engine, self.match_settings, decisions)
        return self._matcher

    # -- people's decisions ------------------------------------------------------

    def resolve(
        self, conflict_id: str | int, resolution: Resolution, *, actor: str, note: str | None = None
    ) -> Outcome:
        """Decide a conflict: ``merge`` / ``split`` / ``keep_apart`` / ``dismiss``."""
        if resolution not in DECISIONS:
            raise ValueError(f"unknown resolution {resolution!r}: one of {', '.join(DECISIONS)}")
        number = conflict_id if isinstance(conflict_id, int) else parse_conflict_id(conflict_id)
        began = time.perf_counter()
        with self._lock:
            with self.engine.begin() as connection:
                stored = get_conflict(connection, number)
                if stored is None:
                    raise LookupError(f"no conflict {conflict_id}")
                if stored.state != "open":
                    raise ValueError(f"conflict {stored.conflict_id} is already {stored.state}")
                kind = DECISIONS[resolution]
                pairs = decision_pairs(stored.conflict, resolution)
                if kind is not None:
                    add_decisions(
                        connection, kind, pairs, actor=actor, reason=note, conflict_id=number
                    )
                close_conflict(connection, number, decision=resolution, actor=actor, note=note)
                record_audit(
                    connection,
                    actor=actor,
                    action=f"resolve:{resolution}",
                    target=stored.conflict_id,
                    detail={"pairs": [[list(a), list(b)] for a, b in pairs], "note": note},
                )
                outcome = Outcome()
                if kind is not None:
                    outcome = self._redo(connection, stored.conflict.records, actor=actor)
                bump_generation(connection)
            self._matcher = None  # rebuilt with the new decisions on the next change
        self._committed()
        outcome.seconds = round(time.perf_counter() - began, 3)
        return outcome

    def _redo(self, connection: sa.Connection, keys: Iterable[RecordKey], *, actor: str) -> Outcome:
        """Re-match the customers holding ``keys`` under the current decisions."""
        previous = xref_of(connection, keys)
        for gid, members in members_of(connection, set(previous.values())).items():
            previous.update({k: gid for k in members})
        scope = set(previous) | set(keys)
        records = {r.key: r for r in load_records(connection, scope)}
        result = reconcile(records.values(), self.match_settings, load_decisions(connection))
        return self._writer.commit(
            connection,
            groups=group_clusters(result.clusters).values(),
            previous=previous,
            records=records,
            links=result.links,
            review=result.review,
            changed=set(),
            actor=actor,
            cause=None,
            quiet=False,
            close_review=False,
        )

    def _committed(self) -> None:
        if self.on_commit is not None:
            self.on_commit()

    # -- reading -----------------------------------------------------------------

    def golden_of(self, records: Sequence[SourceRecord], global_id: str) -> GoldenRecord:
        return build_golden(global_id, records, self.settings)
