"""The bus process's event loop: uvloop by default, asyncio's when told or without uvloop."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
import uvloop

from bus.event_loop import event_loop_named, loop_factory, loop_name, run_on
from bus.settings import Settings
from tests.esb_processes import Deployment, EsbProcess


async def running_loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_the_default_setting_is_uvloop_and_asyncio_can_be_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ESB_EVENT_LOOP", raising=False)
    assert Settings().event_loop == "uvloop"
    monkeypatch.setenv("ESB_EVENT_LOOP", "asyncio")
    assert Settings().event_loop == "asyncio"


def test_a_loop_name_nobody_knows_is_refused() -> None:
    assert event_loop_named("asyncio") == "asyncio"
    with pytest.raises(ValueError, match="trio"):
        event_loop_named("trio")


def test_run_on_uvloop_runs_the_coroutine_on_uvloop() -> None:
    assert run_on("uvloop", running_loop_type()) is uvloop.Loop


def test_run_on_asyncio_runs_the_coroutine_on_the_standard_loop() -> None:
    loop_type = run_on("asyncio", running_loop_type())
    assert not issubclass(loop_type, uvloop.Loop)
    assert loop_type.__module__.startswith("asyncio")


def test_without_uvloop_installed_the_standard_loop_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    loop = loop_factory("uvloop")()
    try:
        assert loop_name(loop) == "asyncio"
    finally:
        loop.close()


@pytest.mark.parametrize("chosen", ["uvloop", "asyncio"])
def test_esb_run_serves_on_the_loop_it_was_told(deployment: Deployment, chosen: str) -> None:
    bus = EsbProcess(deployment, "run", env=deployment.env(
        ESB_EVENT_LOOP=chosen, ESB_WINDOW__ENABLED="false", ESB_SYNC__ENABLED="false",
        ESB_CONSOLE__ENABLED="false"))
    try:
        bus.start()
        exit_code = bus.stop()
        assert exit_code == 0, bus.output()
        assert f"(event loop: {chosen})" in bus.output()
    finally:
        bus.stop()


async def test_async_tests_run_on_the_loop_esb_test_loop_names() -> None:
    asked = os.environ.get("ESB_TEST_LOOP")
    if asked is None:
        pytest.skip("ESB_TEST_LOOP unset: pytest-asyncio's own default loop")
    assert loop_name() == asked
