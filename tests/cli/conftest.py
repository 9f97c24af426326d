from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.entry_points import write_distribution
from tests.esb_processes import ROOT, BusState, Deployment, EsbProcess


def install_call_log_adapter(directory: Path) -> str:
    """A distribution declaring the call log in ``esb.adapters``; returns the ``PYTHONPATH``.

    An ``esb`` process with it finds the adapter the way it finds an installed one,
    so ``esb run`` and ``esb topology`` have a subscription to show.
    """
    write_distribution(directory, "esb-call-log", {
        "esb.adapters": {"call-log": "tests.cli.call_log_adapter:CallLogAdapter"}})
    return os.pathsep.join([str(directory), str(ROOT)])


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return Deployment.in_directory(tmp_path)


@pytest.fixture(scope="package")
def call_log_adapter(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``PYTHONPATH`` for an ``esb`` process with the call log adapter installed."""
    return install_call_log_adapter(tmp_path_factory.mktemp("adapters"))


@pytest.fixture(scope="package")
def running_bus(tmp_path_factory: pytest.TempPathFactory, call_log_adapter: str
                ) -> Iterator[EsbProcess]:
    """``esb run`` with the call log adapter installed, on a throwaway broker and database.

    The components that subscribe to every call (the unified window, the
    synchronizer, the console) are switched off, so a call's path is the call log's.
    """
    deployment = Deployment.in_directory(tmp_path_factory.mktemp("bus"))
    bus = EsbProcess(deployment, "run", env=deployment.env(
        PYTHONPATH=call_log_adapter, ESB_WINDOW__ENABLED="false", ESB_SYNC__ENABLED="false",
        ESB_CONSOLE__ENABLED="false"))
    bus.start()
    yield bus
    exit_code = bus.stop()
    assert exit_code == 0, f"esb run did not stop cleanly on SIGTERM:\n{bus.output()}"


@pytest.fixture(scope="package")
def bus_state(running_bus: EsbProcess) -> Iterator[BusState]:
    state = BusState(running_bus.deployment)
    yield state
    state.close()
