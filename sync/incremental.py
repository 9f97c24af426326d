"""An incremental change's results, persisted for the customers around it only.

After the in-memory :class:`~sync.match.Matcher` has re-scored one record's
blocks, :func:`apply_result` finds the scope to rewrite: the changed records'
old customers and new clusters, grown until closed under both, and hands only
that to :class:`~sync.commit.ResultWriter`. A single change touches a few
customers, so its cost does not grow with the directory.

The review queue follows the change: the matcher lists every review pair touching the
scope, so a stored review conflict of the scope's records that is not among them left
the band (its records link now, or clearly do not) and is closed, with the reason and an
audit entry; a pair that entered the band is raised (opened again if a change had
closed it before).
"""

from __future__ import annotations

import sqlalchemy as sa

from bus.envelope import Envelope
from sync.commit import Outcome, ResultWriter
from sync.match import Matcher
from sync.model import RecordKey
from sync.store.identity import group_clusters
from sync.store.records import load_records
from sync.store.xref import members_of, xref_of

__all__ = ["apply_result"]


def apply_result(
    writer: ResultWriter,
    connection: sa.Connection,
    matcher: Matcher,
    affected: set[RecordKey],
    changed: RecordKey,
    cause: Envelope | None,
) -> Outcome:
    """Persist what ``matcher`` now says about the customers around ``affected``.

    The scope is grown until closed under the stored customers (xref) and the
    matcher's clusters; every look-up is by record or by customer, never a walk
    over the directory.
    """
    scope: set[RecordKey] = set(affected)
    previous: dict[RecordKey, str] = {}
    labels: dict[RecordKey, int] = {}
    expanded: set[int] = set()
    while True:  # grow until closed under old customers and new clusters
        previous.update(xref_of(connection, scope - previous.keys()))
        members = members_of(connection, set(previous.values()))
        grown = scope | {k for keys in members.values() for k in keys}
        for key in grown - labels.keys():
            if (label := matcher.label_of(key)) is not None:
                labels[key] = label
        for label in {labels[k] for k in grown if k in labels} - expanded:
            grown |= matcher.members_labelled(label)
            expanded.add(label)
        if grown == scope:
            break
        scope = grown
    groups = group_clusters({k: labels[k] for k in scope if k in labels})
    records = {r.key: r for r in load_records(connection, scope)}
    links, review = matcher.evidence_of(scope)
    return writer.commit(
        connection,
        groups=groups.values(),
        previous=previous,
        records=records,
        links=links,
        review=review,
        changed={changed},
        actor=writer.settings.actor,
        cause=cause,
        quiet=False,
        close_review=False,
        review_of=scope,  # evidence_of(scope) lists every review pair touching it
    )
