"""The docflow adapter as the bus runs it: discovered, disabled without a URL, its content
route on the bus API, and ``esb adapters check docflow``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from adapters.docflow.adapter import DocflowAdapter
from adapters.docflow.settings import DocflowSettings
from adapters.docflow.simulator import DocflowSimulator
from bus.adapters import AdapterHost, discover
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from bus.cli.main import cli
from tests.conftest import BusFactory
from tests.docflow.conftest import settings_for


@pytest.fixture
def no_docflow_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("URL", "ENABLED", "USER", "PASSWORD", "FEED", "REPOSITORY_ID"):
        monkeypatch.delenv(f"ESB_DOCFLOW__{name}", raising=False)
    return monkeypatch


def test_docflow_is_installed_as_an_esb_adapter() -> None:
    [docflow] = [loaded for loaded in discover() if loaded.name == "docflow"]
    assert docflow.adapter_class is DocflowAdapter
    manifest = DocflowAdapter.manifest.to_json()
    assert {"url", "user", "password", "repository_id", "poll_interval"} <= set(
        manifest["settings"]["properties"])
    assert "docflow.document.registered.v1" in manifest["publishes"]
    assert "docflow.documents.requested.v1" in manifest["consumes"]


def test_without_a_url_the_adapter_is_disabled_and_enabling_it_needs_one(
    no_docflow_environment: pytest.MonkeyPatch,
) -> None:
    assert DocflowSettings().enabled is False

    no_docflow_environment.setenv("ESB_DOCFLOW__URL", "http://cmis.example/browser")
    no_docflow_environment.setenv("ESB_DOCFLOW__PASSWORD", "s3cret")
    settings = DocflowSettings()
    assert settings.enabled is True
    assert "s3cret" not in repr(settings)

    no_docflow_environment.delenv("ESB_DOCFLOW__URL")
    no_docflow_environment.setenv("ESB_DOCFLOW__ENABLED", "true")
    with pytest.raises(ValidationError, match="ESB_DOCFLOW__URL is required"):
        DocflowSettings()


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_documents_file_downloads_through_the_bus_api(
    simulator: DocflowSimulator, make_bus: BusFactory,
) -> None:
    bus = await make_bus(start=False)
    adapter = DocflowAdapter(settings_for(simulator), bus)
    app = create_app(bus, AdapterHost(bus, [LoadedAdapter("docflow", DocflowAdapter,
                                                          instance=adapter)]))
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://esb") as api:
            found = await api.get("/v1/adapters/docflow/documents/DOC-00000003/content")
            missing = await api.get("/v1/adapters/docflow/documents/DOC-404/content")
            simulator.drop(times=1, operation="content")
            cut = await api.get("/v1/adapters/docflow/documents/DOC-00000003/content")
            simulator.fail(503)
            down = await api.get("/v1/adapters/docflow/documents/DOC-00000003/content")
    finally:
        await adapter.stop()

    stored = simulator.data.documents["DOC-00000003"]
    assert found.status_code == 200
    assert found.content == stored.content
    assert found.headers["content-type"] == "application/pdf"
    assert unquote(found.headers["content-disposition"]).endswith("DOC-00000003.pdf")
    assert int(found.headers["content-length"]) == len(stored.content)
    # a connection lost half-way shows as a short body, never as a whole (short) file
    assert len(cut.content) < int(cut.headers["content-length"])
    assert missing.status_code == 404
    assert down.status_code == 503


def test_esb_adapters_check_docflow_reads_the_repository_info(
    no_docflow_environment: pytest.MonkeyPatch, simulator: DocflowSimulator, tmp_path: Path,
) -> None:
    env = {"ESB_DATABASE_URL": f"sqlite:///{tmp_path / 'esb.db'}",
           "ESB_DOCFLOW__URL": simulator.url, "ESB_DOCFLOW__USER": simulator.user,
           "ESB_DOCFLOW__PASSWORD": simulator.password}
    found = CliRunner().invoke(cli, ["adapters", "check", "docflow"], env=env)
    assert found.exit_code == 0, found.output
    assert "docflow: repository esb-docs (ESB documents)" in found.output
    assert "CMIS 1.1" in found.output

    env["ESB_DOCFLOW__PASSWORD"] = "wrong"
    refused = CliRunner().invoke(cli, ["adapters", "check", "docflow"], env=env)
    assert refused.exit_code != 0
    assert "ExternalSystemRejected" in refused.output
    assert "HTTP 401" in refused.output
