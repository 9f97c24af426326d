# ruff: noqa: RUF001 - Russian names and addresses, on purpose
"""Incremental work gives the clusters a full run would, touching only the record's blocks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from sync.match import Matcher, reconcile
from sync.model import Reconciliation, RecordKey, ReviewPair, SourceRecord
from sync.sources import read_changes, read_directory
from tests.sync.engine.records import billing, crm, together


def _partition(result: Reconciliation) -> set[frozenset[RecordKey]]:
    groups: dict[int, set[RecordKey]] = defaultdict(set)
    for key, label in result.clusters.items():
        groups[label].add(key)
    return {frozenset(g) for g in groups.values()}


def test_upsert_links_a_new_account_and_reports_what_changed() -> None:
    a = crm("1", "Орлов Игорь Витальевич", kind="person", phones=("+79130000001",),
            city="Омск", address="г. Омск, ул. Мира, д. 5, кв. 6")  # fmt: skip
    other = crm("2", "Белов Олег Петрович", kind="person", phones=("+79130000002",), city="Омск")
    matcher = Matcher().add_all([a, other])
    b = billing("L1", "ОРЛОВ ИГОРЬ", phones=("8 913 000 00 01",), city="Омск")
    affected = matcher.upsert(b)
    assert affected == {a.key, b.key}
    assert together(matcher.result(), a, b)


def test_update_that_removes_the_evidence_splits_the_customer() -> None:
    a = crm("1", "Орлов Игорь Витальевич", kind="person", phones=("+79130000001",), city="Омск")
    b = billing("L1", "Орлов Игорь Витальевич", phones=("+79130000001",), city="Омск")
    matcher = Matcher().add_all([a, b])
    assert together(matcher.result(), a, b)
    changed = billing("L1", "Орлова Анна Петровна", phones=("+79130000009",), city="Омск")
    matcher.upsert(changed)
    assert not together(matcher.result(), a, b)


def test_remove_forgets_the_record() -> None:
    a = crm("1", "Орлов Игорь Витальевич", kind="person", phones=("+79130000001",), city="Омск")
    b = billing("L1", "Орлов Игорь Витальевич", phones=("+79130000001",), city="Омск")
    matcher = Matcher().add_all([a, b])
    assert matcher.remove(b.key) == {a.key, b.key}
    assert b.key not in matcher.result().clusters and len(matcher) == 1


def test_changes_applied_one_by_one_equal_a_full_run_on_the_final_state(
    generated: Path,
) -> None:
    records = {r.key: r for r in read_directory(generated, docflow=False)}
    matcher = Matcher().add_all(records.values())
    compared_before = matcher.stats["pairs_compared"]
    changes = list(read_changes(generated / "changes.jsonl"))
    for change in changes:
        matcher.upsert(change.record)
        records[change.record.key] = change.record
    per_change = (matcher.stats["pairs_compared"] - compared_before) / len(changes)
    assert per_change < 50  # only the record's blocks, never the whole set
    assert _partition(matcher.result()) == _partition(reconcile(records.values()))


def test_docflow_documents_follow_their_account_and_inn(generated: Path) -> None:
    records: list[SourceRecord] = list(read_directory(generated))
    result = reconcile(records)
    docs = [r for r in records if r.system == "docflow" and r.attributes.get("account_no")]
    assert docs
    for doc in docs[:200]:
        account = ("billing", doc.attributes["account_no"])
        assert result.clusters[doc.key] == result.clusters[account]


def _review_pairs(pairs: list[ReviewPair]) -> set[tuple[RecordKey, RecordKey, str]]:
    return {(p.evidence.left, p.evidence.right, p.reason) for p in pairs}


def _scoped_equals_full(matcher: Matcher, affected: set[RecordKey]) -> int:
    """What the matcher says about ``affected``'s customers alone is what its full
    result says about them; returns how many records that scope held."""
    full = matcher.result()
    by_label: dict[int, set[RecordKey]] = defaultdict(set)
    for key, label in full.clusters.items():
        by_label[label].add(key)
    scope: set[RecordKey] = set()
    for key in affected:
        scoped = matcher.label_of(key)
        assert scoped == full.clusters.get(key), key
        if scoped is not None:
            assert matcher.members_labelled(scoped) == by_label[scoped], key
            scope |= by_label[scoped]
    links, review = matcher.evidence_of(scope)
    assert {(e.left, e.right, e.rule) for e in links} == {
        (e.left, e.right, e.rule) for e in full.links if e.left in scope
    }
    assert _review_pairs(review) == _review_pairs(
        [p for p in full.review if p.evidence.left in scope or p.evidence.right in scope]
    )
    return len(scope)


def test_a_change_scope_says_what_the_full_result_says_about_it(generated: Path) -> None:
    records = {r.key: r for r in read_directory(generated)}
    matcher = Matcher().add_all(records.values())
    docs = [r for r in records.values() if r.system == "docflow" and r.attributes.get("account_no")]
    # a document re-filed under another account, an account closed under its documents
    refiled = replace(
        docs[0], attributes={**docs[0].attributes, "account_no": docs[-1].attributes["account_no"]}
    )
    closed = ("billing", docs[len(docs) // 2].attributes["account_no"])
    assert closed in records
    scopes = []
    for record in [c.record for c in read_changes(generated / "changes.jsonl")] + [refiled]:
        affected = matcher.upsert(record)
        records[record.key] = record
        scopes.append(_scoped_equals_full(matcher, affected))
    affected = matcher.remove(closed)
    del records[closed]
    scopes.append(_scoped_equals_full(matcher, affected))
    assert max(scopes) < len(records) / 20  # a few customers, never the directory
    assert _partition(matcher.result()) == _partition(reconcile(records.values()))
