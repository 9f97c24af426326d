"""What the adapter suites share: a generated customer directory, and adapters on buses.

``tests/<adapter>/conftest.py`` turns these into fixtures: ``datagen_dir`` with
:func:`generated_directory`, ``<adapter>_on`` with :func:`adapters_on` (a bus
from ``make_bus`` with the adapter built, its clients provided and started,
the way the adapter host does it; every one stopped when the test ends).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Generic, TypeVar

import pytest

from bus.adapters import Adapter, AdapterSettings
from bus.app import Bus
from bus.router import Router
from tests.conftest import BusFactory

GENERATOR = Path(__file__).resolve().parents[2] / "shared" / "datagen" / "generate.py"

AdapterT = TypeVar("AdapterT", bound=Adapter)


def generated_directory(tmp_path_factory: pytest.TempPathFactory, name: str, *,
                        customers: int, seed: int) -> Path:
    """A synthetic customer directory from the shared data generator (skip without it)."""
    if not GENERATOR.is_file():
        pytest.skip(f"the data generator is not at {GENERATOR}")
    out = tmp_path_factory.mktemp(name)
    subprocess.run([sys.executable, str(GENERATOR), "--customers", str(customers),
                    "--seed", str(seed), "--out", str(out)], check=True, capture_output=True)
    return out


class AdapterStarter(Generic[AdapterT]):
    """Call with settings (and more routers) for a started bus with the adapter on it."""

    def __init__(self, make_bus: BusFactory, adapter: type[AdapterT]) -> None:
        self.make_bus = make_bus
        self.adapter = adapter
        self.running: list[AdapterT] = []

    async def __call__(self, settings: AdapterSettings, *routers: Router, start: bool = True,
                       before_start: Callable[[Bus], object] | None = None,
                       **delivery: object) -> tuple[Bus, AdapterT]:
        bus = await self.make_bus(self.adapter.router, *routers, start=False, **delivery)
        adapter = self.adapter(settings, bus)
        for kind, provided in adapter.provide().items():
            bus.provide(kind, provided)
        if before_start is not None:
            before_start(bus)  # another adapter on the same bus provides its parts
        await bus.start()
        self.running.append(adapter)
        if start:
            await adapter.start()
        return bus, adapter


@asynccontextmanager
async def adapters_on(make_bus: BusFactory, adapter: type[AdapterT]
                      ) -> AsyncIterator[AdapterStarter[AdapterT]]:
    """An :class:`AdapterStarter`; on exit every adapter it started is stopped."""
    starter = AdapterStarter(make_bus, adapter)
    try:
        yield starter
    finally:
        for running in starter.running:
            await running.stop()
