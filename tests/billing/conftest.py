"""The billing adapter against its simulator (the real api3.wsdl), on a bus from make_bus."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.billing.adapter import BillingAdapter
from adapters.billing.client import BillingClient
from adapters.billing.settings import BillingSettings
from adapters.billing.simdata import BillingData
from adapters.billing.simulator import BillingSimulator
from bus.app import Bus
from bus.router import Router
from tests.conftest import BusFactory

GENERATOR = Path(__file__).resolve().parents[3] / "shared" / "datagen" / "generate.py"

AdapterFactory = Callable[..., Awaitable[tuple[Bus, BillingAdapter]]]


@pytest.fixture(scope="session")
def datagen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic customer directory (300 customers, about 390 billing accounts)."""
    if not GENERATOR.is_file():
        pytest.skip(f"the data generator is not at {GENERATOR}")
    out = tmp_path_factory.mktemp("datagen")
    subprocess.run([sys.executable, str(GENERATOR), "--customers", "300", "--seed", "7",
                    "--out", str(out)], check=True, capture_output=True)
    return out


@pytest.fixture
def simulator() -> Iterator[BillingSimulator]:
    """The built-in seed: a person, a company, a sole proprietor, blocked and closed accounts."""
    with BillingSimulator(BillingData.seed()) as sim:
        yield sim


def settings_for(sim: BillingSimulator, **overrides: Any) -> BillingSettings:
    values: dict[str, Any] = {
        "url": sim.url, "login": sim.login, "password": sim.password, "feed": False,
        "timeout": 2.0, "retries": 0, "page_size": 50, "poll_interval": 0.2,
        "feed_overlap": 0.0, **overrides,
    }
    return BillingSettings(**values)


@pytest.fixture
def client(simulator: BillingSimulator) -> Iterator[BillingClient]:
    billing = BillingClient.from_settings(settings_for(simulator))
    yield billing
    billing.close()


@pytest.fixture
async def billing_on(make_bus: BusFactory) -> AsyncIterator[AdapterFactory]:
    """Start a bus with the billing adapter (as the adapter host would) and other routers."""
    running: list[BillingAdapter] = []

    async def factory(settings: BillingSettings, *routers: Router, start: bool = True,
                      **delivery: object) -> tuple[Bus, BillingAdapter]:
        bus = await make_bus(BillingAdapter.router, *routers, start=False, **delivery)
        adapter = BillingAdapter(settings, bus)
        for kind, provided in adapter.provide().items():
            bus.provide(kind, provided)
        await bus.start()
        running.append(adapter)
        if start:
            await adapter.start()
        return bus, adapter

    yield factory
    for adapter in running:
        await adapter.stop()
