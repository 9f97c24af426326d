"""The engine's state: normalized records, blocks, scored pairs and clusters.

:class:`Matcher` serves both the full run (:meth:`Matcher.add_all`) and
incremental work (:meth:`Matcher.upsert`, :meth:`Matcher.remove`): a change
re-scores only the record's blocks and re-clusters only the connected
components it touches, which gives exactly the clusters a full run would.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, overload

from sync.match.blocking import block_keys
from sync.match.clustering import ClashRule, cluster
from sync.match.collector import collector_paused
from sync.match.evidence import FieldWeights, SharedWeights
from sync.match.firstload import FirstLoad
from sync.match.parallel import RECORDS, Normalizer, Wire
from sync.match.phases import Phases, batches
from sync.match.scope import LabelIndex
from sync.match.scoped import REVIEW_BAND, ScopedResult
from sync.match.scoring import pair_scorer, score_pair
from sync.match.settings import MatchSettings
from sync.model import Decisions, PairEvidence, Reconciliation, RecordKey, ReviewPair, SourceRecord
from sync.normalize.record import NormalizedRecord, normalize_record

__all__ = ["Matcher"]

_BATCH = 20_000
T = TypeVar("T")


class Matcher(ScopedResult, FirstLoad):
    """Incremental record linkage over a growing set of records (see the module doc)."""

    def __init__(self, settings: MatchSettings | None = None,
                 decisions: Decisions = Decisions()) -> None:  # noqa: B008  # fmt: skip
        self.settings = settings or MatchSettings()
        self._weights = self.settings.weights
        self._score = pair_scorer(self._weights)
        self._shared = SharedWeights()  # the accepted links' field weights
        self._records: list[NormalizedRecord | None] = []
        self._index: dict[RecordKey, int] = {}
        # blocking key -> its record, or its records once there are several
        self._blocks: dict[int, int | list[int]] = {}
        self._edges: dict[int, dict[int, float]] = defaultdict(dict)
        self._root: dict[int, int] = {}
        self._joined: dict[int, list[PairEvidence]] = {}
        self._refused: dict[int, list[ReviewPair]] = {}
        self._refused_by: dict[int, set[int]] = {}  # right-hand record -> left-hand ones
        self._labels: LabelIndex | None = None  # built by the first change that needs it
        self._docs: set[int] = set()
        self._decisions = decisions
        self._decided = bool(decisions.must_link or decisions.cannot_link)
        self._must: dict[int, set[int]] = defaultdict(set)
        self._cannot: dict[int, set[int]] = defaultdict(set)
        self.stats: dict[str, float] = defaultdict(float)

    # ------------------------------------------------------------ records and decisions
    def __len__(self) -> int:
        return len(self._index)

    def _slot(self, n: NormalizedRecord) -> int:
        idx = self._index.get(n.key)
        is_doc = n.system == "docflow"
        if idx is None:
            idx = len(self._records)
            self._records.append(n)
            self._index[n.key] = idx
            if self._decided:
                self._bind_decisions(n.key, idx)
        else:
            if self._labels is not None and is_doc and (old := self._records[idx]) is not None:
                self._labels.discard(idx, old)
            self._records[idx] = n
        if self._labels is not None and is_doc:
            self._labels.add(idx, n)
        if is_doc:
            self._docs.add(idx)
        return idx

    def _bind_decisions(self, key: RecordKey, idx: int) -> None:
        for pairs, table in ((self._decisions.must_link, self._must),
                             (self._decisions.cannot_link, self._cannot)):  # fmt: skip
            for a, b in pairs:
                other = b if a == key else a if b == key else None
                if other is not None and (j := self._index.get(other)) is not None and j != idx:
                    table[idx].add(j)
                    table[j].add(idx)

    # ------------------------------------------------------------ blocking and scoring
    def _index_keys(self, idx: int, keys: Iterable[int]) -> None:
        blocks = self._blocks
        for key in keys:
            members = blocks.get(key)
            if members is None:
                blocks[key] = idx
            elif isinstance(members, int):
                blocks[key] = [members, idx]
            else:
                members.append(idx)

    def _candidates(self, idx: int, keys: Iterable[int]) -> set[int]:
        cap = self.settings.max_block
        found: set[int] = set()
        for key in keys:
            members = self._blocks.get(key)
            if members is None:
                continue
            if isinstance(members, int):
                found.add(members)
                continue
            if len(members) > cap:
                self.stats["capped_lookups"] += 1
                continue
            found.update(members)
        found.discard(idx)
        return found

    def _score_against(self, idx: int, others: Iterable[int]) -> None:
        records, score_of, review = self._records, self._score, self.settings.review
        a = records[idx]
        assert a is not None
        edges = self._edges
        row: dict[int, float] | None = None  # edges[idx], made with its first edge
        compared = 0
        for j in others:
            b = records[j]
            if b is None:
                continue
            compared += 1
            score = score_of(a, b)
            if score >= review:
                if row is None:
                    row = edges[idx]
                row[j] = score
                edges[j][idx] = score
        self.stats["pairs_compared"] += compared

    def _drop_record_links(self, idx: int) -> None:
        r = self._records[idx]
        for key in block_keys(r) if r is not None else ():
            members = self._blocks.get(key)
            if members == idx:
                del self._blocks[key]
            elif isinstance(members, list) and idx in members:
                members.remove(idx)
                if len(members) == 1:
                    self._blocks[key] = members[0]
        for j in self._edges.pop(idx, {}):
            self._edges[j].pop(idx, None)

    # ------------------------------------------------------------ clustering
    def _component(self, seeds: Iterable[int]) -> set[int]:
        accept = self.settings.accept
        seen: set[int] = set()
        stack = [s for s in seeds if self._records[s] is not None and s not in self._docs]
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            stack.extend(j for j, s in self._edges.get(i, {}).items() if s >= accept)
            stack.extend(self._must.get(i, ()))
        return {i for i in seen if self._records[i] is not None}

    def _recluster(self, members: set[int]) -> None:
        accept = self.settings.accept
        rows = self._edges
        if len(members) >= len(rows):  # a full load: the records with pairs are fewer
            pairs = ((i, row) for i, row in rows.items() if i in members)
        else:
            pairs = ((i, rows[i]) for i in members if i in rows)
        edges = [(s, i, j) for i, row in pairs for j, s in row.items()
                 if i < j and s >= accept and j in members]  # fmt: skip
        must = [(i, j) for i in members for j in self._must.get(i, ()) if i < j and j in members]
        cannot = {i: self._cannot[i] for i in members if i in self._cannot}
        for i in members:
            self._joined.pop(i, None)
            self._refused.pop(i, None)
        weights = self.settings.weights
        clashes = ClashRule(accept, weights.first_disagree, weights.patronymic_disagree,
                            weights.passport_disagree)
        result = cluster(members, self._records, edges, must, cannot, clashes)
        del edges, must
        if self._root:
            self._root.update(result.root)
        else:  # a first load: the answer's map is the whole map (not a second copy)
            self._root = result.root
        for i, j, score, rule in result.joined:
            self._joined.setdefault(i, []).append(self._evidence(i, j, score, rule))
        for i, j, score, reason in result.refused:
            if j not in self._cannot.get(i, ()) and "decided" not in reason:
                review = ReviewPair(self._evidence(i, j, score, None), reason)
                self._refused.setdefault(i, []).append(review)
                self._refused_by.setdefault(j, set()).add(i)

    def _add_one(self, n: NormalizedRecord, keys: Sequence[int], stale: set[int]) -> int | None:
        """One record of a full load, indexed now; its index when it is to be compared
        (as it comes in a first load, else once all are indexed)."""
        old = self._index.get(n.key)
        if old is not None and old in self._root and old not in self._docs:
            stale |= self._component([old])
            self._drop_record_links(old)
        idx = self._slot(n)
        if n.system == "docflow":
            return None
        self._index_keys(idx, keys)
        return idx

    # ------------------------------------------------------------ public API
    @overload
    def add_all(self, records: Iterable[SourceRecord], *, expected: int = 0) -> Matcher: ...
    @overload
    def add_all(self, records: Iterable[T], wire: Wire[T], *, expected: int = 0) -> Matcher: ...
    def add_all(self, records: Iterable[Any], wire: Wire[Any] = RECORDS, *,
                expected: int = 0) -> Matcher:  # fmt: skip
        """Load many records at once and reconcile them all (the full run).

        ``wire`` says what the items are and how the worker processes make records
        of them (default: the records themselves; a store passes its rows, which the
        workers decode). ``expected``: about how many records are coming, when the
        caller knows (a store does): a large load has the worker processes normalize
        from its first batch on (see :meth:`Normalizer.stream`). ``stats`` gains each
        phase's wall and CPU seconds (``load`` is reading, normalizing and indexing,
        overlapped with the worker processes; in a first load it compares too, see
        :mod:`sync.match.firstload`, and ``compare`` is only the correction for blocks
        that went over the cap).
        """
        with collector_paused():
            self._add_all(records, wire, expected)
        return self

    def _add_all(self, records: Iterable[T], wire: Wire[T], expected: int) -> None:
        self._labels = None  # many records at once: rebuilt by the next change
        fresh: list[int] = []
        stale: set[int] = set()
        first_load = not self._records
        # a first load compares each record as it is indexed (see sync.match.firstload)
        # until a record comes twice
        early = first_load
        overflowed: list[int] = []  # blocks that went over the cap meanwhile
        phases = Phases(self.stats)
        # every fresh record's blocking keys, kept flat for the compare step
        flat_keys, key_ends = array("Q"), array("q")
        normalizer = Normalizer(self.settings.workers, self.settings.parallel_from)
        with normalizer:
            for part in normalizer.stream(batches(records, _BATCH), wire, expected):
                start, keys = 0, part.keys
                for n, count in zip(part.normalized, part.counts, strict=True):
                    own = keys[start : start + count]
                    start += count
                    if early and n.key in self._index:
                        early = False  # a repeat: compared in a pass of their own
                        self._edges.clear()
                    if early:
                        idx = self._add_first(n, own, overflowed)
                    else:
                        idx = self._add_one(n, own, stale)
                    if idx is not None:
                        fresh.append(idx)
                        flat_keys.extend(own)
                        key_ends.append(len(flat_keys))
        phases.done("load")
        fresh_set = set(fresh)
        if early:
            self._drop_capped_pairs(overflowed, fresh, flat_keys, key_ends)
        else:  # every block is complete now
            start = 0
            for idx, end in zip(fresh, key_ends, strict=True):
                own = flat_keys[start:end]
                start = end
                candidates = self._candidates(idx, own)
                self._score_against(idx, (j for j in candidates if j < idx or j not in fresh_set))
        del flat_keys, key_ends
        phases.done("compare")
        if not stale and len(fresh_set) == len(self._index) - len(self._docs):
            members = fresh_set  # a first load: every live record is fresh, nothing to walk
        else:
            members = self._component(stale | fresh_set) | fresh_set
        self._recluster(members)
        phases.done("cluster")

    def upsert(self, record: SourceRecord) -> set[RecordKey]:
        """Add or replace one record; the keys of every record whose cluster may have changed."""
        old = self._index.get(record.key)
        before: set[int] = set()
        if old is not None and old not in self._docs:
            before = self._component([old])
            self._drop_record_links(old)
        n = normalize_record(record)
        idx = self._slot(n)
        if n.system == "docflow":
            return {record.key}
        keys = block_keys(n)
        self._score_against(idx, self._candidates(idx, keys))
        self._index_keys(idx, keys)
        affected = self._component(before | {idx})
        self._recluster(affected)
        return {self._key_of(i) for i in affected} | {record.key}

    def remove(self, key: RecordKey) -> set[RecordKey]:
        """Forget a record; the keys of the records whose cluster may have changed."""
        idx = self._index.pop(key, None)
        if idx is None:
            return set()
        before = self._component([idx]) if idx not in self._docs else set()
        gone = self._records[idx]
        if self._labels is not None and gone is not None and idx in self._docs:
            self._labels.discard(idx, gone)
        self._drop_record_links(idx)
        self._refused_by.pop(idx, None)
        self._records[idx] = None
        self._docs.discard(idx)
        self._root.pop(idx, None)
        self._joined.pop(idx, None)
        self._refused.pop(idx, None)
        before.discard(idx)
        affected = self._component(before)
        self._recluster(affected)
        return {self._key_of(i) for i in affected} | {key}

    def _key_of(self, idx: int) -> RecordKey:
        r = self._records[idx]
        assert r is not None
        return r.key

    def _evidence(self, i: int, j: int, score: float, rule: str | None) -> PairEvidence:
        a, b = self._records[i], self._records[j]
        assert a is not None and b is not None
        if rule == "must-link":
            return PairEvidence(a.key, b.key, score, FieldWeights(a, b, self._weights), rule)
        total, weights, found_rule = score_pair(a, b, self._weights)
        kept: Mapping[str, float] = weights
        if not self.settings.link_evidence:
            kept = {}
        elif rule is None and score >= self.settings.accept:
            kept = self._shared.of(a, b, self._weights, weights)
        return PairEvidence(a.key, b.key, total, kept, rule or found_rule)

    def _doc_label(self, r: NormalizedRecord, inn_root: Callable[[str], int | None]) -> int | None:
        """A document's customer: its account's, else the one holding its INN (the
        customer of the INN's holder with the smallest key, whatever the load order)."""
        if r.account_ref is not None:
            billing = self._index.get(("billing", r.account_ref))
            if billing is not None and billing in self._root:
                return self._root[billing]
        if r.inn is not None:
            return inn_root(r.inn)
        return None

    def result(self) -> Reconciliation:
        """Every record's cluster, the links that built them and what needs review."""
        with collector_paused():
            return self._result()

    def _result(self) -> Reconciliation:
        clusters: dict[RecordKey, int] = {}
        by_inn: dict[str, tuple[RecordKey, int]] = {}
        for idx, root in self._root.items():
            r = self._records[idx]
            if r is None:
                continue
            clusters[r.key] = root
            if r.inn is not None and ((held := by_inn.get(r.inn)) is None or r.key < held[0]):
                by_inn[r.inn] = (r.key, root)
        roots = {inn: root for inn, (_, root) in by_inn.items()}
        del by_inn
        for idx in self._docs:
            r = self._records[idx]
            if r is None:
                continue
            label = self._doc_label(r, roots.get)
            clusters[r.key] = idx if label is None else label
        links = [evidence for joined in self._joined.values() for evidence in joined]
        review = [pair for refused in self._refused.values() for pair in refused]
        accept = self.settings.accept
        for i, row in self._edges.items():
            for j, score in row.items():
                if i < j and score < accept and self._root.get(i) != self._root.get(j):
                    review.append(ReviewPair(self._evidence(i, j, score, None), REVIEW_BAND))
        stats = dict(self.stats)
        stats.update(records=float(len(clusters)), clusters=float(len(set(clusters.values()))),
                     links=float(len(links)), review=float(len(review)))  # fmt: skip
        return Reconciliation(clusters=clusters, links=links, review=review, stats=stats)
