"""While a full run holds the store, the incremental consumers of ``esb run`` let changes
wait in their queue (none lost, none dead-lettered) and apply them when the run ends, so
a run on a store with a steady stream of changes goes through instead of matching again
and again; a hold whose run died stops counting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus.testing import AdapterHarness
from sync.canonical import canonical_record, change_of_record
from sync.component import SyncComponent
from sync.hold import CHANGES, HOLD_STATE, Hold, RunHold, current_hold
from sync.model import SourceRecord
from sync.service import SyncService
from sync.settings import SyncSettings
from sync.store.records import load_records
from sync.store.state import write_state
from tests.conftest import eventually


def _newcomer(n: int) -> SourceRecord:
    return SourceRecord(system="crm", record_id=f"CRM-80{n:05d}", kind="person",
                        name=f"Соколова Мария Игоревна {n}", phones=(f"+7913{n:07d}",))


def _stored(engine: sa.Engine, records: list[SourceRecord]) -> int:
    with engine.connect() as connection:
        return len(load_records(connection, [canonical_record(r).key for r in records]))


async def _publish(harness: AdapterHarness, record: SourceRecord) -> None:
    await harness.publish(*change_of_record(canonical_record(record)))


@contextlib.asynccontextmanager
async def _synchronizer(workdir: Path, generated: Path
                        ) -> AsyncIterator[tuple[AdapterHarness, SyncComponent]]:
    """A bus running the synchronizer component, its store holding the directory."""
    async with AdapterHarness(SyncComponent, workdir) as harness:
        component = harness.adapter
        assert isinstance(component, SyncComponent)
        component.service.import_directory(generated, docflow=False)
        yield harness, component


@pytest.fixture
def quick_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESB_SYNC__HOLD_POLL_SECONDS", "0.05")
    monkeypatch.setenv("ESB_SYNC__MATCH__WORKERS", "1")


async def test_changes_wait_in_their_queue_while_a_run_holds_the_store_then_apply(
        tmp_path: Path, generated: Path, quick_watch: None) -> None:
    async with _synchronizer(tmp_path, generated) as (harness, component):
        engine = component.service.engine
        waiting = [_newcomer(n) for n in range(5)]

        with RunHold(engine, seconds=60):  # as `esb sync run` in another process does
            await eventually(lambda: CHANGES in harness.bus.paused, timeout=5)
            for record in waiting:
                await _publish(harness, record)
            await asyncio.sleep(0.5)
            assert _stored(engine, waiting) == 0
            with engine.connect() as connection:
                assert current_hold(connection) is not None

        await eventually(lambda: _stored(engine, waiting) == len(waiting), timeout=10)
        assert CHANGES not in harness.bus.paused
        assert component.hold_watch.holding_back is False
        assert harness.bus.dead_letters.count() == 0


async def test_a_pause_an_operator_made_outlives_the_hold(
        tmp_path: Path, generated: Path, quick_watch: None) -> None:
    async with _synchronizer(tmp_path, generated) as (harness, component):
        await harness.bus.pause(CHANGES)
        with RunHold(component.service.engine, seconds=60):
            await asyncio.sleep(0.3)
            assert component.hold_watch.holding_back is False  # paused already: not its pause
        await asyncio.sleep(0.3)
        assert CHANGES in harness.bus.paused


async def test_a_run_on_a_store_under_a_steady_stream_of_changes_goes_through(
        tmp_path: Path, generated: Path, quick_watch: None) -> None:
    async with _synchronizer(tmp_path, generated) as (harness, component):
        engine = component.service.engine
        streamed: list[SourceRecord] = []

        async def stream() -> None:
            while True:
                streamed.append(_newcomer(len(streamed)))
                await _publish(harness, streamed[-1])
                await asyncio.sleep(0.01)

        phases: list[str] = []
        elsewhere = SyncService(engine, SyncSettings(match={"workers": 1}, run_attempts=1))
        streaming = asyncio.create_task(stream())
        try:
            await eventually(lambda: _stored(engine, streamed) >= 5, timeout=10)  # flowing
            outcome = await asyncio.to_thread(  # as `esb sync run` does
                elsewhere.run, progress=lambda phase, _count: phases.append(phase),
                settle=component.service.settle_seconds)
        finally:
            streaming.cancel()
        assert outcome.records > 0
        assert phases == ["load", "match", "persist"]  # the first attempt went through
        await eventually(lambda: _stored(engine, streamed) == len(streamed), timeout=20)
        assert CHANGES not in harness.bus.paused


def test_a_hold_counts_until_it_expires_or_its_run_is_gone(tmp_path: Path) -> None:
    engine = SyncService(sa.create_engine(f"sqlite:///{tmp_path / 'hold.db'}")).engine
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead_pid = int(finished.stdout)
    now = time.time()
    holds = {
        "this process, in time": Hold("here", os.getpid(), now, now + 60),
        "this process, expired": Hold("here", os.getpid(), now - 120, now - 60),
        "another host, in time": Hold("elsewhere", dead_pid, now, now + 60),
        "a dead process on this host": Hold("here", dead_pid, now, now + 60),
    }
    standing = {}
    for name, hold in holds.items():
        here = hold.host == "here"
        value = hold.to_json() | ({"host": socket.gethostname()} if here else {})
        with engine.begin() as connection:
            write_state(connection, HOLD_STATE, value)
            standing[name] = current_hold(connection, now) is not None
    assert standing == {"this process, in time": True, "this process, expired": False,
                        "another host, in time": True, "a dead process on this host": False}


def test_a_run_releases_its_hold_when_it_ends_even_by_failing(tmp_path: Path) -> None:
    engine = SyncService(sa.create_engine(f"sqlite:///{tmp_path / 'hold.db'}")).engine
    with pytest.raises(RuntimeError), RunHold(engine, seconds=60):
        with engine.connect() as connection:
            held = current_hold(connection)
        raise RuntimeError("the match failed")
    assert held is not None and held.pid == os.getpid()
    with engine.connect() as connection:
        assert current_hold(connection) is None
