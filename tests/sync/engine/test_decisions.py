# ruff: noqa: RUF001 - Russian names and addresses, on purpose
"""People's decisions win over the evidence, on every later run."""

from __future__ import annotations

from sync.match import Matcher, reconcile
from sync.model import Decisions
from tests.sync.engine.records import billing, crm, together

SAME = {"city": "Омск", "address": "г. Омск, ул. Мира, д. 5, кв. 6"}


def test_cannot_link_keeps_a_strong_pair_apart() -> None:
    a = crm("1", "Орлов Игорь Витальевич", kind="person", phones=("+79130000001",), **SAME)
    b = billing("L1", "Орлов Игорь Витальевич", phones=("+79130000001",), **SAME)
    assert together(reconcile([a, b]), a, b)
    decided = reconcile([a, b], decisions=Decisions(cannot_link=frozenset({(a.key, b.key)})))
    assert not together(decided, a, b)
    assert decided.review == []  # a decided pair is not asked again


def test_cannot_link_also_stops_a_chain_through_a_third_record() -> None:
    a = crm("1", "Орлов Игорь Витальевич", kind="person", phones=("+79130000001",), **SAME)
    b = billing("L1", "Орлов Игорь Витальевич", phones=("+79130000001",), **SAME)
    c = billing("L2", "Орлов И.В.", phones=("+79130000001",), **SAME)
    decided = reconcile([a, b, c], decisions=Decisions(cannot_link=frozenset({(a.key, c.key)})))
    assert not together(decided, a, c)


def test_must_link_joins_what_the_evidence_would_not() -> None:
    a = crm("1", "Орлов Игорь Витальевич", kind="person", phones=("+79130000001",), **SAME)
    b = billing("L1", "ООО «Орлов»", inn="7707083893")
    assert not together(reconcile([a, b]), a, b)
    decided = reconcile([a, b], decisions=Decisions(must_link=frozenset({(b.key, a.key)})))
    assert together(decided, a, b)
    assert any(link.rule == "must-link" for link in decided.links)


def test_decisions_hold_in_incremental_work() -> None:
    a = crm("1", "Орлов Игорь Витальевич", kind="person", phones=("+79130000001",), **SAME)
    b = billing("L1", "Орлов Игорь Витальевич", phones=("+79130000001",), **SAME)
    matcher = Matcher(decisions=Decisions(cannot_link=frozenset({(a.key, b.key)})))
    matcher.add_all([a])
    matcher.upsert(b)
    assert not together(matcher.result(), a, b)
