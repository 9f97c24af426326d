"""An incremental change's results, persisted for the customers around it only.

After the in-memory :class:`~sync.match.Matcher` has re-scored one record's
blocks, :func:`apply_result` finds the scope to rewrite: the changed records'
old customers and new clusters, grown until closed under both, and hands only
that to :class:`~sync.commit.ResultWriter`. A single change touches a few
customers, so its cost does not grow with the directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from bus.envelope import Envelope
from sync.commit import Outcome, ResultWriter
from sync.model import PairEvidence, RecordKey, ReviewPair
from sync.store.identity import group_clusters
from sync.store.records import load_records
from sync.store.xref import members_of, xref_of

__all__ = ["apply_result"]


def apply_result(
    writer: ResultWriter,
    connection: sa.Connection,
    affected: set[RecordKey],
    clusters: Mapping[RecordKey, int],
    links: Sequence[PairEvidence],
    review: Sequence[ReviewPair],
    changed: RecordKey,
    cause: Envelope | None,
) -> Outcome:
    labels = {clusters[k] for k in affected if k in clusters}
    scope: set[RecordKey] = set(affected)
    previous: dict[RecordKey, str] = {}
    while True:  # grow until closed under old customers and new clusters
        previous.update(xref_of(connection, scope - previous.keys()))
        members = members_of(connection, set(previous.values()))
        grown = scope | {k for keys in members.values() for k in keys}
        labels |= {clusters[k] for k in grown if k in clusters}
        grown |= {k for k, label in clusters.items() if label in labels}
        if grown == scope:
            break
        scope = grown
    groups = group_clusters({k: clusters[k] for k in scope if k in clusters})
    records = {r.key: r for r in load_records(connection, scope)}
    in_scope = [p for p in review if p.evidence.left in scope or p.evidence.right in scope]
    return writer.commit(
        connection,
        groups=groups.values(),
        previous=previous,
        records=records,
        links=[link for link in links if link.left in scope],
        review=in_scope,
        changed={changed},
        actor=writer.settings.actor,
        cause=cause,
        quiet=False,
        close_review=False,
    )
