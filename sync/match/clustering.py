"""Clusters from accepted pairs: greedy union, strongest pair first, with guards.

A merge is refused, and the pair goes to review instead, when the two clusters
hold different valid INNs, different birth dates or different genders, or when
a person said ``cannot_link`` for any two of their records. ``must_link`` pairs
are joined first, whatever the evidence.

What the two clusters' other records say counts too (:class:`ClashRule`): two real
first names, two patronymic initials or two passports (a passport is replaced) in one
customer count against the pair that would join them as if its own two records
disagreed on that field, unless they did (then its score has it already); the pair
must still score ``accept``. That keeps a family member at the same address, who
shares a surname, an initial or a first name and the flat with the pair's partner
record, out of a customer whose full name or passport is not theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sync.normalize.persons import first_name_gender
from sync.normalize.record import NormalizedRecord

__all__ = ["ClashRule", "ClusterResult", "cluster"]


@dataclass(slots=True)
class ClusterResult:
    """``root`` of every record index; the pairs that joined clusters; the pairs
    a guard refused, with the reason."""

    root: dict[int, int]
    joined: list[tuple[int, int, float, str | None]] = field(default_factory=list)
    refused: list[tuple[int, int, float, str]] = field(default_factory=list)


_MANY = "\x00many"  # a must-link put two different values in one cluster


def _merged(a: str | None, b: str | None) -> str | None:
    if a is None or a == b:
        return b
    return a if b is None else _MANY


def _clash(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a != b


class _Cluster:
    """What a cluster's guards need: its size, the one INN, birth date, gender, real
    first name, patronymic initial and passport it may hold, and the records people
    said it must never join."""

    __slots__ = ("birth", "first", "forbidden", "gender", "inn", "passport", "patronymic",
                 "size")

    def __init__(self, r: NormalizedRecord, forbidden: set[int] | None) -> None:
        self.size = 1
        self.inn = r.inn
        self.birth = r.birth_date
        self.gender = r.gender or None
        self.first = r.first if r.first and first_name_gender(r.first) else None
        self.patronymic = r.patronymic_initial or None
        self.passport = r.passport
        self.forbidden = set(forbidden) if forbidden else None


def _conflict(a: _Cluster, b: _Cluster) -> str | None:
    if _clash(a.inn, b.inn):
        return "two valid INNs"
    if _clash(a.birth, b.birth):
        return "two birth dates"
    if _clash(a.gender, b.gender):
        return "two genders"
    return None


@dataclass(frozen=True, slots=True)
class ClashRule:
    """The weights a clash between two clusters costs the pair that would join them
    (``first``, ``patronymic``, ``passport``: the fields' disagreement weights), and the
    score it must still reach."""

    accept: float
    first: float
    patronymic: float
    passport: float

    def reason(self, score: float, left: NormalizedRecord | None,
               right: NormalizedRecord | None, a: _Cluster, b: _Cluster) -> str | None:
        if left is None or right is None:
            return None
        clashes: list[str] = []
        if _clash(a.first, b.first) and not (
                first_name_gender(left.first) and first_name_gender(right.first)):
            score += self.first
            clashes.append("two first names")
        if _clash(a.patronymic, b.patronymic) and not (
                left.patronymic_initial and right.patronymic_initial):
            score += self.patronymic
            clashes.append("two patronymics")
        if _clash(a.passport, b.passport) and not (left.passport and right.passport) and not (
                left.patronymic_initial and right.patronymic_initial):
            score += self.passport
            clashes.append("two passports")
        if score >= self.accept:
            return None
        return f"{' and '.join(clashes)}, on too little other evidence,"


def cluster(
    members: Iterable[int],
    records: Sequence[NormalizedRecord | None],
    edges: Iterable[tuple[float, int, int]],
    must_link: Iterable[tuple[int, int]] = (),
    cannot_link: dict[int, set[int]] | None = None,
    clashes: ClashRule | None = None,
) -> ClusterResult:
    """Cluster ``members`` (record indexes) by ``edges`` (score, i, j), strongest first;
    ``clashes``: what the clusters' other records cost a joining pair (none: nothing)."""
    cannot = cannot_link or {}
    parent: dict[int, int] = {i: i for i in members}
    groups: dict[int, _Cluster] = {}  # made when a record first meets a pair

    def group(root: int) -> _Cluster:
        found = groups.get(root)
        if found is None:
            r = records[root]
            assert r is not None
            found = groups[root] = _Cluster(r, cannot.get(root))
        return found

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def union(ra: int, rb: int, a: _Cluster, b: _Cluster) -> None:
        """Join ``rb`` (its cluster ``b``) and ``ra`` (``a``): the larger one's root stays."""
        if a.size < b.size:
            ra, rb, a, b = rb, ra, b, a
        parent[rb] = ra
        a.size += b.size
        a.inn, a.birth = _merged(a.inn, b.inn), _merged(a.birth, b.birth)
        a.gender = _merged(a.gender, b.gender)
        a.first = _merged(a.first, b.first)
        a.patronymic = _merged(a.patronymic, b.patronymic)
        a.passport = _merged(a.passport, b.passport)
        if b.forbidden:
            a.forbidden = (a.forbidden or set()) | b.forbidden
        groups.pop(rb, None)

    result = ClusterResult(root={})
    for i, j in must_link:
        if i in parent and j in parent and (ri := find(i)) != (rj := find(j)):
            union(ri, rj, group(ri), group(rj))
            result.joined.append((i, j, float("inf"), "must-link"))
    # strongest first, ties by index: sorted as (-score, i, j) tuples, with no key function
    # to call per edge (the float negated twice is the same float)
    order = [(-score, i, j) for score, i, j in edges]
    order.sort()
    for negated, i, j in order:
        score = -negated
        ri = i if parent[i] == i else find(i)  # most records are still their own root
        rj = j if parent[j] == j else find(j)
        if ri == rj:
            continue
        a = groups.get(ri) or group(ri)
        b = groups.get(rj) or group(rj)
        if (a.forbidden and any(find(k) == rj for k in a.forbidden)) or (
            b.forbidden and any(find(k) == ri for k in b.forbidden)
        ):
            result.refused.append((i, j, score, "a person decided these are different customers"))
            continue
        reason = _conflict(a, b)
        if reason is None and clashes is not None and (  # inline: asked of every join
                (a.first != b.first and a.first is not None and b.first is not None)
                or (a.patronymic != b.patronymic and a.patronymic is not None
                    and b.patronymic is not None)
                or (a.passport != b.passport and a.passport is not None
                    and b.passport is not None)):
            reason = clashes.reason(score, records[i], records[j], a, b)
        if reason is not None:
            result.refused.append((i, j, score, f"linking would put {reason} in one customer"))
            continue
        union(ri, rj, a, b)
        result.joined.append((i, j, score, None))
    for i, up in parent.items():  # every record straight to its root: the map is the answer
        if parent[up] != up:  # (no copy); a root, or a record whose parent is one, is there
            parent[i] = find(i)
    result.root = parent
    return result
