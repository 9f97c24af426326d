"""The compare loop's shortcuts change nothing: the total-only score is the full scorer's
total pair for pair, and a first load's bisected blocks give the pairs of the general path."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from rapidfuzz.distance import OSA

from sync.match import Matcher, MatchSettings
from sync.match.blocking import block_keys
from sync.match.scoring import _close, pair_score, score_pair
from sync.normalize import normalize_record
from sync.sources import read_directory


def test_the_total_alone_equals_the_full_scores_total_on_every_candidate_pair(
    generated: Path,
) -> None:
    records = [normalize_record(r) for r in read_directory(generated, docflow=False)]
    blocks: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        for key in block_keys(r):
            blocks[key].append(i)
    weights = MatchSettings().weights
    checked: set[tuple[int, int]] = set()
    different = []
    for members in blocks.values():
        for position, i in enumerate(members):
            for j in members[position + 1 :]:
                if (i, j) in checked:
                    continue
                checked.add((i, j))
                full = score_pair(records[i], records[j], weights)[0]
                if pair_score(records[i], records[j], weights) != full:
                    different.append((records[i].key, records[j].key, full))
    assert len(checked) > 5000
    assert different == []


def test_a_first_load_compares_the_pairs_a_load_into_a_filled_engine_does(
    generated: Path,
) -> None:
    records = list(read_directory(generated, docflow=False))
    settings = MatchSettings(workers=1)
    first = Matcher(settings).add_all(records)  # blocks in ascending order: cut by bisection
    later = Matcher(settings).add_all(records[:1]).add_all(records[1:])  # the general path
    assert first.stats["pairs_compared"] == later.stats["pairs_compared"] > 5000
    assert first.result().clusters == later.result().clusters


def test_words_a_typo_apart_are_close_whatever_their_lengths() -> None:
    rng = random.Random(7)
    words = ["".join(rng.choice("abc") for _ in range(rng.randint(0, 7))) for _ in range(400)]
    for a in words:
        for b in words[:60]:
            limit = 2 if min(len(a), len(b)) >= 4 else 1
            assert _close(a, b) == (OSA.distance(a, b) <= limit), (a, b)
