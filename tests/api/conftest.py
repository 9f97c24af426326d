from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.esb_processes import Deployment, EsbProcess


@pytest.fixture(scope="package")
def demo_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsbProcess]:
    """``esb demo`` on a throwaway durable broker and database, its simulated PBX fast:
    two calls a second, each played 30 times faster than life (ended in a few seconds)."""
    deployment = Deployment.in_directory(tmp_path_factory.mktemp("demo"))
    bus = EsbProcess(deployment, "demo",
                     env=deployment.env(ESB_DEMO__RATE="2", ESB_DEMO__SPEED="30"))
    bus.start()
    yield bus
    exit_code = bus.stop()
    assert exit_code == 0, f"esb demo did not stop cleanly on SIGTERM:\n{bus.output()}"


@pytest.fixture(scope="package")
def api(demo_bus: EsbProcess) -> Iterator[httpx.Client]:
    """The demo's API, signed in as its admin (the demo's users: demo/run.py)."""
    with httpx.Client(base_url=demo_bus.deployment.api, timeout=10.0) as client:
        session = client.post("/v1/auth/login", json={"username": "admin", "password": "admin"})
        assert session.status_code == 200, session.text
        client.headers["Authorization"] = f"Bearer {session.json()['access_token']}"
        yield client
