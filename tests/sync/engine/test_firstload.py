"""A first load compares records as they arrive, yet a block that ends up over the cap
links nobody, as in a pass over the complete blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.match import Matcher, MatchSettings, reconcile
from sync.model import SourceRecord
from sync.sources import read_directory
from tests.sync.engine.records import billing, crm, together

CITIES = ("Казань", "Пермь", "Самара", "Омск", "Тверь")


def _namesakes_sharing_a_phone(count: int, **extra: object) -> list[SourceRecord]:
    """One name and one mobile number in ``count`` cities: only the phone's block holds
    them together, and on the phone and the name they would be linked."""
    return [crm(f"C{i}", "Иванов Иван Петрович", phones=("+79161234567",), city=CITIES[i],
                **extra)
            for i in range(count)]  # fmt: skip


def test_a_phone_shared_by_no_more_than_the_cap_links_the_records() -> None:
    records = _namesakes_sharing_a_phone(3)
    result = reconcile(records, MatchSettings(max_block=3))
    assert together(result, records[0], records[2])


def test_a_phone_that_goes_over_the_cap_late_links_nobody() -> None:
    records = _namesakes_sharing_a_phone(5)  # the first three were compared through it
    result = reconcile(records, MatchSettings(max_block=3))
    assert len(set(result.clusters.values())) == len(records)
    assert not result.links and not result.review
    assert result.stats["pairs_dropped_capped"] > 0


def test_records_sharing_another_block_stay_linked_when_a_block_goes_over_the_cap() -> None:
    records = _namesakes_sharing_a_phone(5)
    records[1] = crm("C1", "Иванов Иван Петрович", phones=("+79161234567",), city=CITIES[1],
                     email="ivanov@example.ru")  # fmt: skip
    records.append(billing("B1", "Иванов Иван Петрович", email="ivanov@example.ru",
                           phones=("+79161234567",), city=CITIES[4]))  # fmt: skip
    result = reconcile(records, MatchSettings(max_block=3))
    assert together(result, records[1], records[-1])  # the e-mail's block
    assert not together(result, records[0], records[1])  # the phone's alone: over the cap
    assert not together(result, records[0], records[2])


@pytest.mark.parametrize("cap", [1, 2, 3, 60])
def test_a_first_load_links_as_a_load_into_a_filled_engine_whatever_the_cap(
    generated: Path, cap: int
) -> None:
    records = list(read_directory(generated, docflow=False))
    settings = MatchSettings(workers=1, max_block=cap)
    first = Matcher(settings).add_all(records).result()  # indexed and compared at once
    later = Matcher(settings).add_all(records[:1]).add_all(records[1:]).result()  # two passes
    assert first.clusters == later.clusters
    assert sorted((e.left, e.right, e.score) for e in first.links) == sorted(
        (e.left, e.right, e.score) for e in later.links
    )
    assert sorted((p.evidence.left, p.evidence.right, p.reason) for p in first.review) == sorted(
        (p.evidence.left, p.evidence.right, p.reason) for p in later.review
    )
