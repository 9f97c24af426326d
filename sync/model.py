"""What the synchronizer's parts hand each other: source records in, links out.

The engine (:mod:`sync.normalize`, :mod:`sync.match`) is pure: it takes
:class:`SourceRecord` values and returns a :class:`Reconciliation`. The store and
the service (:mod:`sync.store`, :mod:`sync.service`) load records from files, SQL
or the bus, persist the result, and keep people's decisions, which the engine
respects through :class:`Decisions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Decisions",
    "PairEvidence",
    "Reconciliation",
    "RecordKey",
    "ReviewPair",
    "SourceRecord",
]

System = Literal["crm", "billing", "docflow"]
Kind = Literal["person", "company", ""]

#: ``(system, record_id)``: a record's identity everywhere in the synchronizer.
RecordKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record of one system, as received (not normalized).

    ``kind`` is empty when the source does not say (billing: the engine infers it
    from the name's legal form and the INN's length). ``attributes`` carries what
    the engine does not match on but the golden record keeps (segment,
    manager_id, account_no, balance, tariff, status, ...).
    """

    system: str
    record_id: str
    kind: Kind = ""
    name: str = ""
    birth_date: str | None = None
    inn: str | None = None
    passport: str | None = None
    phones: tuple[str, ...] = ()
    email: str | None = None
    city: str | None = None
    address: str | None = None
    updated_at: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> RecordKey:
        return (self.system, self.record_id)


@dataclass(frozen=True, slots=True)
class PairEvidence:
    """Why two records were compared and what each field said.

    ``weights`` maps a field (``inn``, ``passport``, ``name``, ``birth_date``,
    ``phone``, ``email``, ``address``, ...) to its contribution to ``score``
    (Fellegi-Sunter log2 weights, or the engine's calibrated equivalent).
    ``rule`` names a deterministic rule that decided the pair, if any
    (``same-valid-inn``, ``namesake-guard``, ...).
    """

    left: RecordKey
    right: RecordKey
    score: float
    weights: Mapping[str, float]
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewPair:
    """A pair in the review band, or a contradiction a person must decide."""

    evidence: PairEvidence
    reason: str


@dataclass(frozen=True, slots=True)
class Decisions:
    """People's decisions the engine must respect on every later run.

    ``must_link`` pairs end in one cluster; ``cannot_link`` pairs never do,
    whatever the evidence.
    """

    must_link: frozenset[tuple[RecordKey, RecordKey]] = frozenset()
    cannot_link: frozenset[tuple[RecordKey, RecordKey]] = frozenset()


@dataclass(slots=True)
class Reconciliation:
    """The engine's answer: every record's cluster, and what needs a person.

    ``clusters`` maps each record to a cluster label; labels are only
    meaningful within one result (the store turns them into stable global
    customer ids). ``links`` are the accepted pairs that built the clusters.
    """

    clusters: dict[RecordKey, int]
    links: list[PairEvidence]
    review: list[ReviewPair]
    stats: dict[str, float] = field(default_factory=dict)
