"""The billing adapter as the bus discovers it: disabled without a URL, checked from the CLI."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.billing.adapter import BillingAdapter
from adapters.billing.settings import DEFAULT_WSDL, BillingSettings
from adapters.billing.simulator import BillingSimulator
from bus.adapters import AdapterHost, discover
from bus.cli.main import cli
from tests.conftest import BusFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_billing_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("URL", "ENABLED", "LOGIN", "PASSWORD", "FEED"):
        monkeypatch.delenv(f"ESB_BILLING__{name}", raising=False)
    return monkeypatch


def test_billing_is_installed_as_an_esb_adapter() -> None:
    [billing] = [loaded for loaded in discover() if loaded.name == "billing"]
    assert billing.adapter_class is BillingAdapter
    manifest = BillingAdapter.manifest.to_json()
    assert {"url", "login", "password", "page_size", "poll_interval"} <= set(
        manifest["settings"]["properties"])
    assert "billing.account.changed.v1" in manifest["publishes"]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_without_a_url_the_adapter_is_disabled_and_declares_no_queues(
    no_billing_environment: pytest.MonkeyPatch, make_bus: BusFactory,
) -> None:
    bus = await make_bus(start=False)
    host = AdapterHost(bus, [a for a in discover() if a.name == "billing"])
    host.build()

    assert host.adapters[0].state == "disabled"
    assert bus.subscriptions == []


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_enabling_it_without_a_url_is_reported_and_skipped(
    no_billing_environment: pytest.MonkeyPatch, make_bus: BusFactory,
) -> None:
    no_billing_environment.setenv("ESB_BILLING__ENABLED", "true")
    bus = await make_bus(start=False)
    host = AdapterHost(bus, [a for a in discover() if a.name == "billing"])
    host.build()

    assert host.adapters[0].state == "failed"
    assert "ESB_BILLING__URL is required" in (host.adapters[0].error or "")


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_with_a_url_the_host_builds_starts_checks_and_stops_it(
    no_billing_environment: pytest.MonkeyPatch, make_bus: BusFactory,
    simulator: BillingSimulator,
) -> None:
    no_billing_environment.setenv("ESB_BILLING__URL", simulator.url)
    no_billing_environment.setenv("ESB_BILLING__PASSWORD", simulator.password)
    no_billing_environment.setenv("ESB_BILLING__FEED", "false")
    assert BillingSettings().enabled
    bus = await make_bus(start=False)
    host = AdapterHost(bus, [a for a in discover() if a.name == "billing"])
    host.build()
    await bus.start()
    await host.start()

    [billing] = await host.refresh_health()
    assert (billing.state, billing.health and billing.health.ok) == ("running", True)
    assert {s.name for s in bus.subscriptions} == {"billing.accounts.requested",
                                                  "billing.write-back"}
    await host.stop()
    assert billing.state == "stopped"


def test_esb_adapters_check_billing_logs_in_and_reads_a_holder(
    no_billing_environment: pytest.MonkeyPatch, simulator: BillingSimulator, tmp_path: Path,
) -> None:
    env = {"ESB_DATABASE_URL": f"sqlite:///{tmp_path / 'esb.db'}",
           "ESB_BILLING__URL": simulator.url, "ESB_BILLING__PASSWORD": simulator.password}
    found = CliRunner().invoke(cli, ["adapters", "check", "billing"], env=env)
    assert found.exit_code == 0, found.output
    assert "billing: logged in to" in found.output
    assert "read holder uid=10001" in found.output

    env["ESB_BILLING__PASSWORD"] = "wrong"
    refused = CliRunner().invoke(cli, ["adapters", "check", "billing"], env=env)
    assert refused.exit_code != 0
    assert "ExternalSystemRejected" in refused.output
    assert "wrong login or password" in refused.output


def test_the_wsdl_ships_inside_the_package_with_encoding_xml_beside_it() -> None:
    assert DEFAULT_WSDL.is_file()
    assert DEFAULT_WSDL.is_relative_to(ROOT / "adapters" / "billing")
    assert (DEFAULT_WSDL.parent / "encoding.xml").is_file()
    assert b'schemaLocation="encoding.xml"' in DEFAULT_WSDL.read_bytes()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["adapters.billing"]
    for shipped in ("wsdl/api3.wsdl", "wsdl/encoding.xml"):
        assert any(fnmatch.fnmatch(shipped, pattern) for pattern in package_data), shipped
