"""Stable global customer ids: new clusters inherit old ids by overlap.

The engine labels clusters afresh on every run; :func:`assign_ids` maps each
new cluster to the global id that holds most of its records (greedy, largest
overlap first, older id on ties), gives new clusters new ids, and says what
changed: records linked or moved, customers merged (ids retired), customers
split. Pure: the store persists the answer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from sync.model import RecordKey

__all__ = ["IdentityChanges", "Merge", "Move", "Split", "assign_ids", "group_clusters"]


class Move(NamedTuple):
    """A record now linked to ``global_id``; ``previous`` is None for a new link (a tuple:
    a first run makes one per record)."""

    key: RecordKey
    global_id: str
    previous: str | None


@dataclass(frozen=True, slots=True)
class Merge:
    """``retired`` customers' records all now belong to ``global_id``."""

    global_id: str
    retired: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Split:
    """The records of ``global_id`` now belong to the customers in ``parts``."""

    global_id: str
    parts: dict[str, tuple[RecordKey, ...]]


@dataclass(slots=True)
class IdentityChanges:
    assignments: dict[RecordKey, str] = field(default_factory=dict)
    members: dict[str, list[RecordKey]] = field(default_factory=dict)
    new_ids: list[str] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    retired: dict[str, str] = field(default_factory=dict)
    """retired id -> the id that took most of its records"""
    unlinked: list[RecordKey] = field(default_factory=list)

    @property
    def touched(self) -> set[str]:
        """Customers whose set of records changed."""
        ids = {move.global_id for move in self.moves}
        ids.update(move.previous for move in self.moves if move.previous)
        return ids - set(self.retired)


def group_clusters(clusters: Mapping[RecordKey, int]) -> dict[int, list[RecordKey]]:
    grouped: dict[int, list[RecordKey]] = defaultdict(list)
    for key, label in clusters.items():
        grouped[label].append(key)
    return dict(grouped)


def assign_ids(
    clusters: Iterable[Collection[RecordKey]],
    previous: Mapping[RecordKey, str],
    allocate: Callable[[], str],
) -> IdentityChanges:
    """Give every cluster a global id, keeping ids stable where records stay together.

    ``previous`` must hold every record of every old customer in scope (a
    customer is either wholly in scope or not at all); records in ``previous``
    but in no cluster are unlinked.
    """
    groups = [list(members) for members in clusters if members]
    overlaps: list[tuple[int, str, int]] = []
    if previous:  # a first run has nothing to inherit
        for index, members in enumerate(groups):
            held = [gid for key in members if (gid := previous.get(key)) is not None]
            if len(held) == 1 or (held and held.count(held[0]) == len(held)):
                overlaps.append((len(held), held[0], index))
            elif held:
                overlaps.extend((count, gid, index) for gid, count in Counter(held).items())
    overlaps.sort(key=lambda item: (-item[0], item[1], item[2]))
    cluster_id: dict[int, str] = {}
    taken: set[str] = set()
    for _count, gid, index in overlaps:
        if index not in cluster_id and gid not in taken:
            cluster_id[index] = gid
            taken.add(gid)
    changes = IdentityChanges()
    assignments, moves, get = changes.assignments, changes.moves, previous.get
    for index, members in enumerate(groups):
        found = cluster_id.get(index)
        if found is None:
            found = allocate()
            changes.new_ids.append(found)
        gid = found
        for key in members:
            assignments[key] = gid
            before = get(key)
            if before != gid:
                moves.append(Move(key, gid, before))
        members.sort()
        changes.members[gid] = members
    _merges_and_splits(changes, previous, taken)
    changes.unlinked = sorted(key for key in previous if key not in changes.assignments)
    return changes


def _merges_and_splits(
    changes: IdentityChanges, previous: Mapping[RecordKey, str], kept: set[str],
) -> None:
    went: dict[str, Counter[str]] = defaultdict(Counter)
    for key, before in previous.items():
        now = changes.assignments.get(key)
        if now is not None:
            went[before][now] += 1
    retired_into: dict[str, list[str]] = defaultdict(list)
    for before, destinations in sorted(went.items()):
        if before not in kept:
            into = destinations.most_common(1)[0][0]
            changes.retired[before] = into
            retired_into[into].append(before)
    split_ids = {before for before, destinations in went.items() if len(destinations) > 1}
    parts: dict[str, dict[str, list[RecordKey]]] = defaultdict(lambda: defaultdict(list))
    for key, before in previous.items():
        if before in split_ids and key in changes.assignments:
            parts[before][changes.assignments[key]].append(key)
    changes.splits = [
        Split(before, {gid: tuple(sorted(keys)) for gid, keys in sorted(parts[before].items())})
        for before in sorted(split_ids)
    ]
    changes.merges = [Merge(gid, tuple(sorted(retired)))
                      for gid, retired in sorted(retired_into.items())]
