"""A load the caller knows to be large is normalized by the worker processes from its
first batch on, and gives the customers a load normalized in this process gives."""

from __future__ import annotations

from pathlib import Path

from sync.match import Matcher, MatchSettings
from sync.match.parallel import RECORDS, Normalizer
from sync.model import SourceRecord
from sync.sources import read_directory
from tests.sync.engine.records import crm


def _people(count: int) -> list[SourceRecord]:
    return [crm(f"C{i}", f"Иванов Иван {i}", phones=(f"+7916{i:07d}",)) for i in range(count)]


def _display_names(normalizer: Normalizer, batch: list[SourceRecord], expected: int) -> set[str]:
    with normalizer:
        parts = list(normalizer.stream([batch], RECORDS, expected))
    return {n.display_name for part in parts for n in part.normalized}


def test_a_batch_of_a_load_under_the_threshold_is_normalized_in_this_process() -> None:
    names = _display_names(Normalizer(2, parallel_from=50_000), _people(1200), expected=0)
    assert "" not in names  # this process keeps the display name


def test_a_load_known_to_be_large_goes_to_the_workers_with_its_first_batch() -> None:
    names = _display_names(Normalizer(2, parallel_from=50_000), _people(1200), expected=50_000)
    assert names == {""}  # a worker's record comes without it


def test_a_load_sent_to_the_workers_at_once_finds_the_customers_of_one_process(
    generated: Path,
) -> None:
    records = list(read_directory(generated, docflow=False))
    alone = Matcher(MatchSettings(workers=1)).add_all(records).result()
    eager = Matcher(MatchSettings(workers=2, parallel_from=len(records))).add_all(
        records, expected=len(records)
    )
    shared = eager.result()
    assert shared.clusters == alone.clusters
    assert [(e.left, e.right, e.score, dict(e.weights), e.rule) for e in shared.links] == [
        (e.left, e.right, e.score, dict(e.weights), e.rule) for e in alone.links
    ]
    assert [(p.evidence.left, p.evidence.right, p.reason) for p in shared.review] == [
        (p.evidence.left, p.evidence.right, p.reason) for p in alone.review
    ]
    assert shared.stats["pairs_compared"] == alone.stats["pairs_compared"] > 0
