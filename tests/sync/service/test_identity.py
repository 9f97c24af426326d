"""Stable global ids: clusters inherit ids by overlap; merges retire, splits add."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sync.store.identity import assign_ids


def ids(start: int = 100) -> Callable[[], str]:
    counter = itertools.count(start)
    return lambda: f"G{next(counter):09d}"


A, B, C, D = ("crm", "1"), ("billing", "LS-1"), ("billing", "LS-2"), ("crm", "2")


def test_a_cluster_keeps_the_id_that_holds_most_of_its_records() -> None:
    previous = {A: "G1", B: "G1", C: "G1", D: "G2"}
    changes = assign_ids([[A, B, C], [D]], previous, ids())
    assert changes.assignments == previous
    assert changes.moves == [] and changes.new_ids == [] and changes.merges == []


def test_new_records_get_a_new_id_and_a_link_each() -> None:
    changes = assign_ids([[A, B], [C]], {}, ids())
    assert changes.new_ids == ["G000000100", "G000000101"]
    assert changes.assignments[A] == changes.assignments[B] != changes.assignments[C]
    assert {m.key for m in changes.moves} == {A, B, C}
    assert all(m.previous is None for m in changes.moves)


def test_a_merge_retires_the_smaller_customer_into_the_larger() -> None:
    previous = {A: "G1", B: "G1", C: "G2"}
    changes = assign_ids([[A, B, C]], previous, ids())
    assert changes.assignments == {A: "G1", B: "G1", C: "G1"}
    assert changes.retired == {"G2": "G1"}
    assert [(m.global_id, m.retired) for m in changes.merges] == [("G1", ("G2",))]
    assert [(m.key, m.previous) for m in changes.moves] == [(C, "G2")]


def test_a_split_keeps_the_id_on_the_larger_part_and_names_the_parts() -> None:
    previous = {A: "G1", B: "G1", C: "G1"}
    changes = assign_ids([[A, B], [C]], previous, ids())
    assert changes.assignments[A] == "G1" and changes.assignments[C] == "G000000100"
    assert len(changes.splits) == 1
    split = changes.splits[0]
    assert split.global_id == "G1"
    assert split.parts == {"G000000100": (C,), "G1": tuple(sorted((A, B)))}
    assert changes.retired == {}


def test_a_record_in_no_cluster_is_unlinked() -> None:
    previous = {A: "G1", B: "G1"}
    changes = assign_ids([[A]], previous, ids())
    assert changes.unlinked == [B]
    assert changes.assignments == {A: "G1"}
