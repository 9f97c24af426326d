"""Pairwise figures against truth, and the generator's directory read into records."""

from __future__ import annotations

import json
from pathlib import Path

from sync.evaluate import evaluate, read_truth
from sync.sources import read_changes, read_directory


def test_pairwise_precision_recall_and_crm_duplicates() -> None:
    truth = {("crm", "1"): "A", ("crm", "2"): "A", ("billing", "x"): "A",
             ("billing", "y"): "B", ("billing", "z"): "B", ("docflow", "d"): "A"}  # fmt: skip
    # predicted: {crm1, crm2}, {x, y}, {z}; docflow is not scored
    clusters = {("crm", "1"): 1, ("crm", "2"): 1, ("billing", "x"): 2, ("billing", "y"): 2,
                ("billing", "z"): 3}  # fmt: skip
    figures = evaluate(clusters, truth)
    # true pairs: A has 3 records -> 3 pairs, B has 2 -> 1; predicted: 1 + 1; correct: 1
    assert (figures.links.true_pairs, figures.links.predicted_pairs) == (4, 2)
    assert figures.links.correct_pairs == 1
    assert (figures.precision, figures.recall) == (0.5, 0.25)
    assert figures.crm_duplicates.recall == 1.0 and figures.crm_duplicates.precision == 1.0
    assert json.loads(figures.to_json())["links"]["f1"] == figures.f1


def test_a_record_missing_from_the_result_counts_as_alone() -> None:
    truth = {("crm", "1"): "A", ("billing", "x"): "A"}
    figures = evaluate({("crm", "1"): 1}, truth)
    assert figures.missing_from_result == 1 and figures.recall == 0.0


def test_generator_directory_becomes_source_records(generated: Path) -> None:
    records = list(read_directory(generated))
    systems = {r.system for r in records}
    assert systems == {"crm", "billing", "docflow"}
    truth = read_truth(generated / "truth.csv")
    assert {r.key for r in records} == set(truth)
    crm = next(r for r in records if r.system == "crm")
    assert crm.kind in ("person", "company") and crm.attributes["manager_id"]
    bill = next(r for r in records if r.system == "billing")
    assert bill.attributes["tariff"] and bill.updated_at
    doc = next(r for r in records if r.system == "docflow")
    assert doc.attributes["doc_type"] and doc.name


def test_changes_rows_carry_the_record_and_its_customer(generated: Path) -> None:
    changes = list(read_changes(generated / "changes.jsonl"))
    assert changes and all(c.record.system in ("crm", "billing") for c in changes)
    assert {c.op for c in changes} <= {"create", "update"}
    assert all(c.customer_key for c in changes)
