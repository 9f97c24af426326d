"""One change's scope: what :meth:`Matcher.result` says about a few customers.

:mod:`sync.incremental` asks for the customers around a change only, so these
answers walk the records of those customers, never every record: a record's
label, the records a label holds (with the documents that follow them, found
through :class:`~sync.match.scope.LabelIndex`) and the evidence touching them.
:class:`ScopedResult` is a part of :class:`~sync.match.matcher.Matcher`; it reads
the matcher's state and changes none of it but the lazily built label index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sync.match.blocking import inn_key
from sync.match.scope import LabelIndex
from sync.match.settings import MatchSettings
from sync.model import PairEvidence, RecordKey, ReviewPair
from sync.normalize.record import NormalizedRecord

__all__ = ["REVIEW_BAND", "ScopedResult"]

REVIEW_BAND = "score between the review and accept thresholds"


class ScopedResult:
    """:meth:`label_of`, :meth:`members_labelled`, :meth:`evidence_of` for the matcher."""

    # the matcher's state these answers read (set by Matcher.__init__)
    settings: MatchSettings
    _records: list[NormalizedRecord | None]
    _index: dict[RecordKey, int]
    _blocks: dict[int, int | list[int]]
    _edges: dict[int, dict[int, float]]
    _root: dict[int, int]
    _joined: dict[int, list[PairEvidence]]
    _refused: dict[int, list[ReviewPair]]
    _refused_by: dict[int, set[int]]
    _labels: LabelIndex | None
    _docs: set[int]

    def _component(self, seeds: Iterable[int]) -> set[int]:
        raise NotImplementedError

    def _doc_label(self, r: NormalizedRecord, inn_root: Callable[[str], int | None]) -> int | None:
        raise NotImplementedError

    def _evidence(self, i: int, j: int, score: float, rule: str | None) -> PairEvidence:
        raise NotImplementedError

    def _label_index(self) -> LabelIndex:
        if self._labels is None:
            records = self._records
            self._labels = LabelIndex((i, r) for i in self._docs if (r := records[i]) is not None)
        return self._labels

    def _inn_root(self, inn: str) -> int | None:
        records, block = self._records, self._blocks.get(inn_key(inn))
        held = [block] if isinstance(block, int) else block or []
        holders = [(r.key, i) for i in held if (r := records[i]) is not None and r.inn == inn]
        return self._root.get(min(holders)[1]) if holders else None

    def label_of(self, key: RecordKey) -> int | None:
        """The record's cluster label, as :meth:`result` gives it (None: no such record)."""
        idx = self._index.get(key)
        if idx is None:
            return None
        if idx not in self._docs:
            return self._root.get(idx)
        r = self._records[idx]
        assert r is not None
        label = self._doc_label(r, self._inn_root)
        return idx if label is None else label

    def members_labelled(self, label: int) -> set[RecordKey]:
        """Every record :meth:`result` would give ``label``: the cluster's records (all
        in its root's component) and the documents that follow them."""
        records = self._records
        if label in self._docs:  # a document no customer claims is a cluster of its own
            r = records[label]
            return {r.key} if r is not None and self.label_of(r.key) == label else set()
        members = [i for i in self._component([label]) if self._root.get(i) == label]
        keys: set[RecordKey] = set()
        index = self._label_index()
        for i in members:
            r = records[i]
            assert r is not None
            keys.add(r.key)
            for d in index.documents(r.key[1] if r.system == "billing" else None, r.inn):
                doc = records[d]
                if doc is not None and self.label_of(doc.key) == label:
                    keys.add(doc.key)
        return keys

    def evidence_of(
        self, scope: Iterable[RecordKey]
    ) -> tuple[list[PairEvidence], list[ReviewPair]]:
        """:meth:`result`'s links whose left record is in ``scope`` and its review
        pairs with either record in ``scope``."""
        records = self._records
        idxs = {i for k in scope if (i := self._index.get(k)) is not None}
        links = [evidence for i in idxs for evidence in self._joined.get(i, ())]
        review = [pair for i in idxs for pair in self._refused.get(i, ())]
        for j in idxs:
            right = records[j]
            if right is None:
                continue
            for i in self._refused_by.get(j, ()):
                if i not in idxs:
                    refused = self._refused.get(i, ())
                    review.extend(p for p in refused if p.evidence.right == right.key)
        accept, seen = self.settings.accept, set[tuple[int, int]]()
        for i in idxs:
            for j, score in self._edges.get(i, {}).items():
                pair = (i, j) if i < j else (j, i)
                if score < accept and pair not in seen and self._root.get(i) != self._root.get(j):
                    seen.add(pair)
                    review.append(ReviewPair(self._evidence(*pair, score, None), REVIEW_BAND))
        return links, review
