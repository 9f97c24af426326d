"""A full run pauses the cyclic garbage collector and gives it back as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

from sync.match import MatchSettings, collector_paused, reconcile
from sync.model import SourceRecord
from sync.sources import read_directory


def test_the_collector_is_off_during_a_full_run_and_back_on_after(generated: Path) -> None:
    seen: list[bool] = []

    def records() -> Iterator[SourceRecord]:
        for record in read_directory(generated, docflow=False):
            seen.append(gc.isenabled())
            yield record

    assert gc.isenabled()
    try:
        result = reconcile(records(), MatchSettings(workers=1))
        assert result.clusters
        assert seen and not any(seen)
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_a_collector_someone_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused(), collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.unfreeze()
