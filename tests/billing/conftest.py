"""The billing adapter against its simulator (the real api3.wsdl), on a bus from make_bus."""

from __future__ import annotations

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
from tests.adapter_kit import adapters_on, generated_directory
from tests.conftest import BusFactory

AdapterFactory = Callable[..., Awaitable[tuple[Bus, BillingAdapter]]]


@pytest.fixture(scope="session")
def datagen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic customer directory (300 customers, about 390 billing accounts)."""
    return generated_directory(tmp_path_factory, "datagen", customers=300, seed=7)


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
    async with adapters_on(make_bus, BillingAdapter) as starter:
        yield starter
