"""deploy/compose.yaml: what must run once runs in one service, the rest scales.

The services' environments are read the way each container's ``esb run`` reads them:
every discovered adapter's settings built from them (external systems all configured).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bus.adapters import discover

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"
SERVICES: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
ESB_SERVICES = {name: s for name, s in SERVICES.items() if "ESB_BROKER_URL" in
                s.get("environment", {}) and s.get("command") is None}
"""The services that run the image's ``esb run`` (not a one-shot command such as
``esb db upgrade``)."""
CONFIGURED = {"ESB_BILLING__URL": "http://billing:34012", "ESB_CRM__URL": "http://crm:8080",
              "ESB_DOCFLOW__URL": "http://cmis:8080", "ESB_PBX__AMI_HOST": "pbx",
              "ESB_PBX__ENABLED": "true"}  # as an integrator's .env would set them


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in [name for name in os.environ if name.startswith("ESB_")]:
        monkeypatch.delenv(name)
    yield monkeypatch


def interpolated(value: str) -> str:
    """``${NAME:-default}`` as compose resolves it with CONFIGURED as the .env file."""
    if value.startswith("${") and ":-" in value:
        name, _, default = value[2:-1].partition(":-")
        return CONFIGURED.get(name, default)
    return value


def adapter_settings(service: str, environment: pytest.MonkeyPatch) -> dict[str, Any]:
    env = {**CONFIGURED, **{k: interpolated(str(v))
                            for k, v in ESB_SERVICES[service]["environment"].items()
                            if k.startswith("ESB_") and "URL" not in k}}
    for key, value in env.items():
        environment.setenv(key, value)
    return {loaded.name: loaded.adapter_class.manifest.settings()
            for loaded in discover() if loaded.adapter_class is not None}


def test_compose_runs_the_workers_the_api_face_and_one_singleton() -> None:
    assert set(ESB_SERVICES) == {"esb-worker-1", "esb-worker-2", "esb-singleton"}
    published = [name for name, s in ESB_SERVICES.items() if s.get("ports")]
    assert published == ["esb-worker-1"], "operators open one worker's page"


@pytest.mark.parametrize("service", sorted(ESB_SERVICES))
def test_only_the_singleton_holds_the_pbx_session_and_the_change_feeds(
    service: str, environment: pytest.MonkeyPatch
) -> None:
    settings = adapter_settings(service, environment)
    once = service == "esb-singleton"
    assert settings["pbx"].enabled is once
    assert settings["billing"].feed is once and settings["docflow"].feed is once


@pytest.mark.parametrize("service", sorted(ESB_SERVICES))
def test_only_the_published_worker_serves_the_faces_with_per_process_state(
    service: str, environment: pytest.MonkeyPatch
) -> None:
    settings = adapter_settings(service, environment)
    face = service == "esb-worker-1"
    assert settings["window"].enabled is face and settings["console"].enabled is face

