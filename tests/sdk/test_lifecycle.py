"""An adapter's background work: cancelled on stop, or given time to finish a pass."""

from __future__ import annotations

import asyncio

import pytest

from bus.adapters import AdapterSettings
from bus.adapters.lifecycle import BackgroundWork, settings_of
from tests.sdk.sample_adapter import NotifierAdapter, NotifierSettings


def test_an_adapter_gets_its_own_settings_back_or_an_error_naming_both() -> None:
    own = NotifierSettings()
    assert settings_of(NotifierAdapter, own, NotifierSettings) is own

    with pytest.raises(TypeError, match="needs NotifierSettings"):
        settings_of(object(), AdapterSettings(), NotifierSettings)


async def test_a_spawned_task_is_cancelled_on_stop() -> None:
    work = BackgroundWork()
    forever = work.spawn(asyncio.Event().wait(), "forever")
    assert work.started

    await work.stop()

    assert forever.cancelled()
    assert not work.started


async def test_a_loop_finishes_its_pass_in_progress_when_asked_to_stop() -> None:
    passes: list[str] = []

    async def poller(stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            passes.append("started")
            await asyncio.sleep(0.05)  # a poll in its thread
            passes.append("finished")

    work = BackgroundWork(grace=5)
    work.spawn_loop(poller, "poller")
    await asyncio.sleep(0.01)
    await work.stop()

    assert passes == ["started", "finished"]


async def test_a_loop_that_outlives_its_grace_is_cancelled() -> None:
    async def stuck(stopping: asyncio.Event) -> None:
        await asyncio.Event().wait()

    work = BackgroundWork(grace=0.05)
    task = work.spawn_loop(stuck, "stuck")
    await work.stop()

    assert task.cancelled()


async def test_work_started_again_after_a_stop_runs_until_the_next_stop() -> None:
    rounds: list[int] = []

    async def poller(stopping: asyncio.Event) -> None:
        rounds.append(len(rounds))
        await stopping.wait()

    work = BackgroundWork(grace=1)
    work.spawn_loop(poller, "first")
    await asyncio.sleep(0.01)
    await work.stop()
    second = work.spawn_loop(poller, "second")
    await asyncio.sleep(0.05)

    assert not second.done()  # the stop of the first round does not end the second
    await work.stop()
    assert rounds == [0, 1] and second.done()
