"""The full reconciliation's steps over the store: what it starts from, the match, the write.

:meth:`sync.service.SyncService.run` and :meth:`~sync.service.SyncService.run_partitioned`
are made of these:

* :func:`load_state`: the xref, people's decisions and what changed since the last run
  (the source records themselves only when asked: a run streams them instead);
* :func:`match_stored`: every live record from the store into a :class:`Matcher`. The
  rows go to the engine's worker processes as the driver read them (JSON text), so that
  decoding them, like normalizing them, is the workers' work: the main process, which
  indexes, compares and clusters, only reads rows and hands them on;
* :class:`Matched`: the part of the engine's answer the write stage needs, the records
  grouped into customers (the record -> label map is not kept);
* :func:`partitions_matched`: the same answer from workers on the bus, when the match
  was handed to them (:mod:`sync.partition`);
* :func:`finish_run`: one transaction through :class:`sync.commit.ResultWriter`, the run's
  summary and audit, and the store's generation moved on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bus.errors import TransientError
from sync.commit import Outcome, ResultWriter, bump_generation
from sync.match import Matcher, MatchSettings
from sync.match.parallel import Wire
from sync.model import Decisions, PairEvidence, Reconciliation, RecordKey, ReviewPair, SourceRecord
from sync.partition import read_results
from sync.store.identity import group_clusters
from sync.store.queue import load_decisions, record_audit
from sync.store.records import decode_record, iter_records, iter_stored
from sync.store.state import changed_since, read_state, write_state
from sync.store.tables import records as record_rows
from sync.store.xref import read_xref

__all__ = [
    "STORED",
    "Loaded",
    "Matched",
    "StoreChanged",
    "finish_run",
    "load_state",
    "match_stored",
    "partitions_matched",
]

STORED: Wire[Any] = Wire(decode_record)
"""Stored rows cross to the engine's workers as read; the workers decode them."""


@dataclass(slots=True)
class Loaded:
    """What a full run starts from."""

    records: dict[RecordKey, SourceRecord] | None
    """None: the write stage reads them from the store"""
    previous: dict[RecordKey, str]
    decisions: Decisions
    changed: set[RecordKey] | None
    generation: int = 0
    """The store's generation they were read at: :func:`finish_run` writes only onto it"""


@dataclass(slots=True)
class Matched:
    """The customers a match found, and the pairs that made them or need a person."""

    groups: Sequence[Sequence[RecordKey]]
    links: Sequence[PairEvidence]
    review: Sequence[ReviewPair]
    stats: dict[str, float]
    count: int
    """records matched"""

    @classmethod
    def of(cls, result: Reconciliation) -> Matched:
        """``result`` without its record -> label map (the groups say the same)."""
        groups = list(group_clusters(result.clusters).values())
        return cls(groups, result.links, result.review, dict(result.stats), len(result.clusters))


def load_state(engine: sa.Engine, *, with_records: bool) -> Loaded:
    """The xref, decisions and changes a run starts from (and every record, if asked)."""
    with engine.connect() as connection:
        generation = _generation(connection)  # first: a commit after any read moves it
        last_run = read_state(connection, "last_run_at")
        return Loaded(
            records={r.key: r for r in iter_records(connection)} if with_records else None,
            previous=read_xref(connection),
            decisions=load_decisions(connection),
            changed=changed_since(connection, float(last_run)) if last_run else None,
            generation=generation,
        )


class StoreChanged(TransientError):
    """Another import, change or decision was committed while the run matched: its answer
    is of records and customers that are no longer the store's, so it is not written (a
    merge's customer could have lost every record, another's links moved). Run again."""


def _generation(connection: sa.Connection) -> int:
    return int(read_state(connection, "generation") or 0)


def match_stored(engine: sa.Engine, settings: MatchSettings, decisions: Decisions) -> Matcher:
    """Every live stored record through the engine (see the module doc). The store's
    row count tells the engine how large the load is, so that a large one is normalized
    by the workers from its first row on (deleted rows are counted too: a hint need not
    be exact, and counting every row reads the primary key's index, not the table)."""
    with engine.connect() as connection:
        expected = connection.execute(sa.select(sa.func.count()).select_from(record_rows)).scalar()
        return Matcher(settings, decisions).add_all(
            iter_stored(connection), STORED, expected=int(expected or 0)
        )


async def partitions_matched(
    engine: sa.Engine, run_id: str, partitions: int, timeout: float
) -> Matched:
    """The union of a partitioned run's answers once every partition is in (``count``
    left 0: the caller knows the records); :class:`TimeoutError` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            waiting, (groups, links, review) = read_results(connection, run_id)
        if not waiting:
            return Matched(list(groups), links, review, {"partitions": float(partitions)}, 0)
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{waiting} of {partitions} partitions unmatched after {timeout:.0f} s"
            )
        await asyncio.sleep(0.05)


def finish_run(
    writer: ResultWriter,
    engine: sa.Engine,
    loaded: Loaded,
    matched: Matched,
    *,
    actor: str,
    began: float,
    publish_initial: bool,
) -> tuple[Outcome, int]:
    """Persist a full run's answer in one transaction; the outcome and the store's new
    generation. ``began`` (``time.perf_counter``) times the whole run for the summary."""
    started = time.time()
    with engine.begin() as connection:
        if (now := _generation(connection)) != loaded.generation:
            raise StoreChanged(f"the store moved from generation {loaded.generation} to {now} "
                               "while the run matched: nothing was written, run again")
        outcome = writer.commit(
            connection,
            groups=matched.groups,
            previous=loaded.previous,
            records=loaded.records,
            links=matched.links,
            review=matched.review,
            changed=loaded.changed,
            actor=actor,
            cause=None,
            quiet=not loaded.previous and not publish_initial,
            close_review=True,
        )
        write_state(connection, "last_run_at", started)
        outcome.stats = matched.stats
        outcome.records = matched.count
        outcome.seconds = round(time.perf_counter() - began, 3)
        write_state(connection, "last_run", outcome.to_json())
        record_audit(connection, actor=actor, action="run", target="all", detail=outcome.to_json())
        generation = bump_generation(connection)
    return outcome, generation
