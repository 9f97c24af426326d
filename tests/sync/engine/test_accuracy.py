"""Accuracy on a small generated directory: the issue's bar, at test size."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sync.evaluate import evaluate, read_truth
from sync.match import MatchSettings, reconcile
from sync.model import PairEvidence, RecordKey
from sync.sources import read_directory


def test_precision_and_recall_of_record_to_customer_links(generated: Path) -> None:
    result = reconcile(read_directory(generated, docflow=False))
    figures = evaluate(result.clusters, read_truth(generated / "truth.csv"))
    assert figures.missing_from_result == 0
    assert figures.precision >= 0.999, figures.to_json()
    assert figures.recall >= 0.998, figures.to_json()
    assert figures.crm_duplicates.recall >= 0.95, figures.to_json()


def test_normalizing_in_worker_processes_gives_the_same_customers(generated: Path) -> None:
    records = list(read_directory(generated, docflow=False))
    alone = reconcile(records, MatchSettings(workers=1))
    shared = reconcile(records, MatchSettings(workers=2, parallel_from=0))
    assert shared.clusters == alone.clusters
    assert _pairs(shared.links) == _pairs(alone.links)
    assert _pairs(p.evidence for p in shared.review) == _pairs(p.evidence for p in alone.review)
    assert shared.stats["pairs_compared"] == alone.stats["pairs_compared"] > 0


def _pairs(evidence: Iterable[PairEvidence]) -> list[tuple[RecordKey, RecordKey, float]]:
    return sorted((e.left, e.right, e.score) for e in evidence)
