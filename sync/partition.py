"""The match step of a full run, partitioned by blocking key for parallel workers.

Records that share a blocking key (below the engine's ``max_block`` cap, as in a
single run), a must-link decision, or a cited account/INN (documents) fall in one
component; no candidate pair crosses components, so components can be matched
apart. :func:`plan_partitions` packs components into N balanced partitions;
each becomes a ``sync.partition.requested.v1`` that competing consumers (the
``sync.partitions`` queue of every synchronizer process, or ``esb sync worker``)
take, match against the shared database (PostgreSQL in production) and answer
with ``sync.partition.matched.v1``. The coordinator then persists the union as
a normal run does (:meth:`sync.service.SyncService.run_partitioned`).
"""

from __future__ import annotations

import asyncio
import heapq
import os
import socket
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from bus.context import Context
from bus.envelope import Envelope
from bus.router import Router
from sync.match import MatchSettings, reconcile
from sync.match.blocking import block_keys
from sync.model import Decisions, PairEvidence, RecordKey, ReviewPair, SourceRecord
from sync.normalize import normalize_record
from sync.store.queue import load_decisions
from sync.store.records import load_records
from sync.store.tables import partitions as partitions_table

__all__ = ["PartitionResult", "match_partition", "plan_partitions", "read_results",
           "worker_router"]

PartitionResult = tuple[list[list[RecordKey]], list[PairEvidence], list[ReviewPair]]


class _Components:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def plan_partitions(records: Sequence[SourceRecord], decisions: Decisions,
                    settings: MatchSettings, partitions: int) -> list[list[RecordKey]]:
    """``records`` split into at most ``partitions`` groups no candidate pair crosses."""
    index = {record.key: i for i, record in enumerate(records)}
    components = _Components(len(records))
    blocks: dict[int, list[int]] = defaultdict(list)
    by_inn: dict[str, int] = {}
    documents: list[tuple[int, str | None, str | None]] = []
    for i, record in enumerate(records):
        normalized = normalize_record(record)
        if record.system == "docflow":
            documents.append((i, normalized.account_ref, normalized.inn))
            continue
        for key in block_keys(normalized):
            blocks[key].append(i)
        if normalized.inn:
            by_inn.setdefault(normalized.inn, i)
    for members in blocks.values():
        if len(members) <= settings.max_block:
            for other in members[1:]:
                components.union(members[0], other)
    for left, right in decisions.must_link:
        if left in index and right in index:
            components.union(index[left], index[right])
    for i, account, inn in documents:
        billing = index.get(("billing", account)) if account else None
        anchor = billing if billing is not None else by_inn.get(inn) if inn else None
        if anchor is not None:
            components.union(i, anchor)
    grouped: dict[int, list[int]] = defaultdict(list)
    for i in range(len(records)):
        grouped[components.find(i)].append(i)
    loads = [(0, p) for p in range(max(1, partitions))]
    out: list[list[int]] = [[] for _ in loads]
    for members in sorted(grouped.values(), key=len, reverse=True):
        load, p = heapq.heappop(loads)
        out[p].extend(members)
        heapq.heappush(loads, (load + len(members), p))
    return [[records[i].key for i in sorted(members)] for members in out if members]


def _evidence(item: Sequence[Any]) -> PairEvidence:
    return PairEvidence((str(item[0][0]), str(item[0][1])), (str(item[1][0]), str(item[1][1])),
                        float(item[2]),
                        dict(item[3]), item[4])


def _plain(evidence: PairEvidence) -> list[Any]:
    return [list(evidence.left), list(evidence.right), evidence.score,
            dict(evidence.weights), evidence.rule]


def match_partition(engine: sa.Engine, settings: MatchSettings, run_id: str, partition: int,
                    worker: str) -> tuple[int, int]:
    """Match one stored partition and store its result; returns (records, clusters)."""
    with engine.connect() as connection:
        members = connection.execute(sa.select(partitions_table.c.members).where(
            partitions_table.c.run_id == run_id,
            partitions_table.c.partition == partition)).scalar_one()
        keys = [(str(s), str(r)) for s, r in members]
        loaded = {r.key: r for r in load_records(connection, keys)}
        decisions = load_decisions(connection)
    result = reconcile([loaded[k] for k in keys if k in loaded], settings, decisions)
    clusters: dict[int, list[list[str]]] = defaultdict(list)
    for key, label in result.clusters.items():
        clusters[label].append(list(key))
    body = {"clusters": list(clusters.values()),
            "links": [_plain(link) for link in result.links],
            "review": [[*_plain(pair.evidence), pair.reason] for pair in result.review]}
    with engine.begin() as connection:
        connection.execute(partitions_table.update().where(
            partitions_table.c.run_id == run_id, partitions_table.c.partition == partition)
            .values(result=body, worker=worker, finished_at=time.time()))
    return len(loaded), len(clusters)


def read_results(connection: sa.Connection, run_id: str) -> tuple[int, PartitionResult]:
    """How many partitions are still running, and the union of the finished ones."""
    rows = connection.execute(sa.select(partitions_table.c.result).where(
        partitions_table.c.run_id == run_id)).scalars().all()
    groups: list[list[RecordKey]] = []
    links: list[PairEvidence] = []
    review: list[ReviewPair] = []
    for body in rows:
        if body is None:
            continue
        groups.extend([(str(s), str(r)) for s, r in cluster] for cluster in body["clusters"])
        links.extend(_evidence(item) for item in body["links"])
        review.extend(ReviewPair(_evidence(item[:5]), str(item[5])) for item in body["review"])
    return sum(1 for body in rows if body is None), (groups, links, review)


def write_plan(connection: sa.Connection, run_id: str,
               planned: Iterable[Sequence[RecordKey]]) -> int:
    rows = [{"run_id": run_id, "partition": p, "members": [list(k) for k in members]}
            for p, members in enumerate(planned)]
    connection.execute(partitions_table.insert(), rows)
    return len(rows)


def forget_run(connection: sa.Connection, run_id: str) -> None:
    connection.execute(partitions_table.delete().where(partitions_table.c.run_id == run_id))


WORKER = f"{socket.gethostname()}-{os.getpid()}"

worker_router = Router(source="sync")


@worker_router.subscriber("sync.partitions", "sync.partition.requested.v1")
async def partition_requested(envelope: Envelope, context: Context) -> None:
    """Match one partition of a full run (competing consumers)."""
    from sync.service import SyncService

    service = context.bus.dependency(SyncService)
    payload = envelope.payload
    began = time.perf_counter()
    records, clusters = await asyncio.to_thread(
        match_partition, service.engine, service.match_settings, str(payload["run_id"]),
        int(payload["partition"]), WORKER)
    await context.publish("sync.partition.matched.v1", {
        "run_id": payload["run_id"], "partition": payload["partition"], "worker": WORKER,
        "records": records, "clusters": clusters,
        "seconds": round(time.perf_counter() - began, 3)})
