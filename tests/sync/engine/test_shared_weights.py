"""An accepted link's field weights are the ones its pair scores, held once per
distinct answer (the write stage reads them without scoring again), and past the
limit of distinct answers worked out again when read, to the same answer."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from sync.match import Matcher, MatchSettings
from sync.match.evidence import SharedWeights
from sync.match.scoring import score_pair
from sync.normalize import normalize_record
from sync.sources import read_directory


def test_links_carry_their_pairs_weights_one_object_per_distinct_answer(
    generated: Path,
) -> None:
    source = list(read_directory(generated, docflow=False))
    normalized = {r.key: normalize_record(r) for r in source}
    settings = MatchSettings()
    links = Matcher(settings).add_all(source).result().links
    shared = [link for link in links if link.rule != "must-link"]
    assert len(shared) > 100
    for link in shared:
        fresh = score_pair(normalized[link.left], normalized[link.right], settings.weights)[1]
        assert list(link.weights.items()) == list(fresh.items())
    by_answer = {tuple(link.weights.items()): link.weights for link in shared}
    assert all(link.weights is by_answer[tuple(link.weights.items())] for link in shared)
    assert len({id(link.weights) for link in shared}) == len(by_answer) < len(shared) / 4


def test_past_the_limit_a_pair_is_scored_again_when_read(generated: Path) -> None:
    records = [normalize_record(r) for r in read_directory(generated, docflow=False)][:60]
    weights = MatchSettings().weights
    pool = SharedWeights(limit=3)
    answers = []
    for a, b in pairwise(records):
        fields = score_pair(a, b, weights)[1]
        answers.append((pool.of(a, b, weights, dict(fields)), fields))
    shared = {id(held) for held, _fields in answers if held._data is not None}
    lazy = [held for held, _fields in answers if held._data is None]
    assert len(shared) == 3 and lazy
    assert [dict(held.items()) for held, _fields in answers] == [f for _held, f in answers]
