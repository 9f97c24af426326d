"""The docflow adapter against its simulator (a CMIS browser-binding server on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.docflow.adapter import DocflowAdapter
from adapters.docflow.client import CmisClient
from adapters.docflow.settings import DocflowSettings
from adapters.docflow.simulator import DocflowSimulator
from bus.app import Bus
from tests.adapter_kit import adapters_on, generated_directory
from tests.conftest import BusFactory

AdapterFactory = Callable[..., Awaitable[tuple[Bus, DocflowAdapter]]]


@pytest.fixture(scope="session")
def datagen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic customer directory (60 customers and their documents)."""
    return generated_directory(tmp_path_factory, "docflow-datagen", customers=60, seed=11)


@pytest.fixture
def simulator() -> Iterator[DocflowSimulator]:
    """The built-in seed: six documents of customers C-1001..C-1003."""
    with DocflowSimulator() as sim:
        yield sim


def settings_for(sim: DocflowSimulator, **overrides: Any) -> DocflowSettings:
    values: dict[str, Any] = {
        "url": sim.url, "user": sim.user, "password": sim.password, "feed": False,
        "timeout": 2.0, "poll_interval": 0.2, "feed_overlap": 0.0, "page_size": 50,
        **overrides,
    }
    return DocflowSettings(**values)


@pytest.fixture
async def client(simulator: DocflowSimulator) -> AsyncIterator[CmisClient]:
    cmis = CmisClient.from_settings(settings_for(simulator))
    yield cmis
    await cmis.close()


@pytest.fixture
async def docflow_on(make_bus: BusFactory) -> AsyncIterator[AdapterFactory]:
    """Start a bus with the docflow adapter (as the adapter host would) and other routers."""
    async with adapters_on(make_bus, DocflowAdapter) as starter:
        yield starter
