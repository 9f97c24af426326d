"""The CRM adapter plugs in through the esb.adapters entry point; no URL means disabled."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.crm.adapter import CrmAdapter
from adapters.crm.settings import CrmSettings
from bus.adapters import discover


def test_the_crm_adapter_is_discovered_through_its_entry_point() -> None:
    [crm] = [loaded for loaded in discover() if loaded.name == "crm"]
    assert crm.adapter_class is CrmAdapter
    assert "pbx.call.ended.v1" in CrmAdapter.manifest.consumes
    assert "crm.interaction.logged.v1" in CrmAdapter.manifest.to_json()["publishes"]


def test_without_a_url_the_adapter_is_disabled_and_enabling_it_needs_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ESB_CRM__URL", raising=False)
    assert CrmSettings().enabled is False

    monkeypatch.setenv("ESB_CRM__URL", "http://crm.example:8080")
    monkeypatch.setenv("ESB_CRM__TOKEN", "t0ken")
    settings = CrmSettings()
    assert settings.enabled is True
    assert "t0ken" not in repr(settings)

    monkeypatch.delenv("ESB_CRM__URL")
    monkeypatch.setenv("ESB_CRM__ENABLED", "true")
    with pytest.raises(ValidationError, match="ESB_CRM__URL is required"):
        CrmSettings()
