"""Pairwise precision, recall and F1 of record→customer links against ground truth.

Truth is the generator's ``truth.csv`` (``system,record_id,customer_key``). Two
records are linked when they share a cluster (predicted) or a customer key
(truth); only CRM and billing records count for the headline figures, the way
the issue defines them. The CRM-duplicate figures score the CRM-CRM pairs alone
(two CRM cards of one customer).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from sync.model import RecordKey

__all__ = ["Evaluation", "PairCounts", "evaluate", "read_truth"]

SCORED_SYSTEMS = frozenset({"crm", "billing"})


@dataclass(frozen=True, slots=True)
class PairCounts:
    """True, predicted and correct linked pairs, and the figures from them."""

    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Record→customer links of CRM and billing together, and CRM duplicates alone."""

    records: int
    links: PairCounts
    crm_duplicates: PairCounts
    missing_from_result: int

    @property
    def precision(self) -> float:
        return self.links.precision

    @property
    def recall(self) -> float:
        return self.links.recall

    @property
    def f1(self) -> float:
        return self.links.f1

    def to_json(self) -> str:
        return json.dumps(
            {
                "records": self.records,
                "missing_from_result": self.missing_from_result,
                "links": self.links.as_dict(),
                "crm_duplicates": self.crm_duplicates.as_dict(),
            },
            indent=2,
        )


def read_truth(path: Path | str) -> dict[RecordKey, str]:
    """``truth.csv`` as record key → customer key."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return {(row["system"], row["record_id"]): row["customer_key"] for row in csv.DictReader(f)}


def _pairs(counter: Counter[object]) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def _counts(items: Iterable[tuple[str, int]]) -> PairCounts:
    truth: Counter[object] = Counter()
    predicted: Counter[object] = Counter()
    both: Counter[object] = Counter()
    for customer, label in items:
        truth[customer] += 1
        predicted[label] += 1
        both[(customer, label)] += 1
    return PairCounts(_pairs(truth), _pairs(predicted), _pairs(both))


def evaluate(
    clusters: Mapping[RecordKey, int], truth: Mapping[RecordKey, str],
    systems: frozenset[str] = SCORED_SYSTEMS,
) -> Evaluation:  # fmt: skip
    """Compare a result's clusters with the truth over the records of ``systems``.

    A record the result does not mention counts as a cluster of its own.
    """
    rows: list[tuple[str, int, str]] = []
    missing = 0
    next_label = max(clusters.values(), default=0) + 1
    for key, customer in truth.items():
        if key[0] not in systems:
            continue
        label = clusters.get(key)
        if label is None:
            missing += 1
            label, next_label = next_label, next_label + 1
        rows.append((key[0], label, customer))
    links = _counts((customer, label) for _, label, customer in rows)
    crm = _counts((customer, label) for system, label, customer in rows if system == "crm")
    return Evaluation(len(rows), links, crm, missing)
