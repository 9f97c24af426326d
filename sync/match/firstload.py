"""A first load's comparisons made while the records still arrive.

In a first load (an empty engine, every record new and once) records get ascending
indexes, so when a record is indexed every record it is to be compared with (the
earlier members of its blocks) is already there: it can be scored at once, while the
worker processes normalize the next batches, instead of in a pass of its own once
every record is in (the main process's longest step, with the workers idle).

One thing is not known yet: whether a block will end up over ``max_block``, in which
case it is not used at all. A block over the cap so far is skipped; one that goes over
later was used by its first members. :meth:`FirstLoad._drop_capped_pairs` then removes
the scored pairs that only such a block brought together, so the pairs kept are exactly
those the pass over the complete blocks would score. Only the order in which the kept
pairs were found can differ, and clustering sorts them.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from sync.match.settings import MatchSettings
from sync.model import RecordKey
from sync.normalize.record import NormalizedRecord

__all__ = ["FirstLoad"]


class FirstLoad:
    """:meth:`_add_first`, :meth:`_index_so_far` and :meth:`_drop_capped_pairs` for the
    matcher's full load."""

    # the matcher's state these steps read and change (set by Matcher.__init__)
    settings: MatchSettings
    _records: list[NormalizedRecord | None]
    _index: dict[RecordKey, int]
    _docs: set[int]
    _decided: bool
    _blocks: dict[int, int | list[int]]
    _edges: dict[int, dict[int, float]]
    stats: dict[str, float]

    # and the matcher's steps they call
    def _bind_decisions(self, key: RecordKey, idx: int) -> None:
        raise NotImplementedError

    def _score_against(self, idx: int, others: Iterable[int]) -> None:
        raise NotImplementedError

    def _add_first(self, n: NormalizedRecord, keys: Sequence[int], overflowed: list[int]
                   ) -> int | None:  # fmt: skip
        """One new record of a first load: held, indexed and compared at once with the
        records before it in its blocks (see :mod:`sync.match.firstload`); its index,
        None for a document (documents are not compared)."""
        idx = len(self._records)
        self._records.append(n)
        self._index[n.key] = idx
        if self._decided:
            self._bind_decisions(n.key, idx)
        if n.key[0] == "docflow":
            self._docs.add(idx)
            return None
        earlier = self._index_so_far(idx, keys, overflowed)
        if earlier:
            self._score_against(idx, earlier)
        return idx


    def _index_so_far(self, idx: int, keys: Iterable[int], overflowed: list[int]) -> set[int]:
        """Index record ``idx`` under its blocking ``keys`` (each one once: a record's keys
        are distinct) and answer the records indexed before it in those blocks, blocks
        over the cap left out; a block that has just gone over joins ``overflowed``.

        One look-up per key does both (indexing, then reading the block again, was a
        quarter of a first load's work in this process). The answer is the very set the
        two steps made: the same members added in the same order."""
        cap = self.settings.max_block
        blocks = self._blocks
        found: set[int] = set()
        for key in keys:
            members = blocks.setdefault(key, idx)  # one look-up: most keys are new
            if members is idx:  # the record alone (an index is held nowhere else yet)
                continue
            if isinstance(members, int):
                blocks[key] = [members, idx]
                if cap >= 2:
                    found.add(members)
                else:
                    self._went_over(key, 2, overflowed)
            else:
                size = len(members)  # before this record
                members.append(idx)
                if size >= cap:
                    self._went_over(key, size + 1, overflowed)
                else:
                    found.update(members[:size])
        return found

    def _went_over(self, key: int, size: int, overflowed: list[int]) -> None:
        if size == self.settings.max_block + 1:
            overflowed.append(key)
        self.stats["capped_lookups"] += 1

    def _drop_capped_pairs(
        self, overflowed: Sequence[int], fresh: Sequence[int], flat_keys: array[int],
        key_ends: array[int],
    ) -> None:  # fmt: skip
        """Forget the pairs scored through the ``overflowed`` blocks that share no block
        under the cap. ``fresh`` (ascending) and ``flat_keys`` / ``key_ends`` give each
        record's keys."""
        if not overflowed:
            return
        capped = set(overflowed)
        cap = self.settings.max_block

        def usable_keys(idx: int) -> set[int]:
            at = bisect_left(fresh, idx)
            start = key_ends[at - 1] if at else 0
            return set(flat_keys[start : key_ends[at]]) - capped

        edges = self._edges
        dropped = 0
        for key in overflowed:
            members = self._blocks[key]
            assert isinstance(members, list)
            # members[p] was compared through this block with the ones before it
            # while the block held no more than ``cap`` records
            for p in range(1, min(cap, len(members))):
                i = members[p]
                row = edges.get(i)
                if not row:
                    continue
                for j in members[:p]:
                    if j in row and not usable_keys(i) & usable_keys(j):
                        del row[j]
                        other = edges[j]
                        del other[i]
                        if not other:
                            del edges[j]
                        dropped += 1
                if not row:
                    del edges[i]
        self.stats["pairs_dropped_capped"] += dropped
