"""Routing rules come from ESB_PBX__ROUTING__* or a rules file, and bad ones are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.pbx.routing.settings import RoutingSettings
from adapters.pbx.settings import AmiSettings
from bus.errors import ConfigurationError


def test_environment_variables_configure_routing_nested_in_the_pbx_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESB_PBX__ROUTING__UNKNOWN_STRATEGY", "ring_all")
    monkeypatch.setenv("ESB_PBX__ROUTING__RING_ALL_QUEUE", "sales")
    monkeypatch.setenv("ESB_PBX__ROUTING__CALENDAR__TIMEZONE", "Asia/Novosibirsk")

    routing = AmiSettings().routing

    assert (routing.unknown_strategy, routing.ring_all_queue) == ("ring_all", "sales")
    assert routing.calendar is not None and routing.calendar.timezone == "Asia/Novosibirsk"


def test_a_yaml_rules_file_overrides_the_environment(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("default_queue: main\nunknown_strategy: region\n"
                     "branches: {Свердловская: '7002'}\n"
                     "calendar: {timezone: Asia/Yekaterinburg, holidays: ['2026-12-31']}\n",
                     encoding="utf-8")

    settings = RoutingSettings(rules_file=rules, default_queue="ignored").with_rules_file()

    assert (settings.default_queue, settings.unknown_strategy) == ("main", "region")
    assert settings.branches == {"Свердловская": "7002"}
    assert settings.calendar is not None and str(settings.calendar.holidays[0]) == "2026-12-31"


def test_bad_rules_are_refused_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "rules.json"
    broken.write_text("[1, 2]", encoding="utf-8")

    with pytest.raises(ConfigurationError, match="want a mapping"):
        RoutingSettings(rules_file=broken).with_rules_file()
    with pytest.raises(ValidationError, match="unknown timezone"):
        RoutingSettings(calendar={"timezone": "Mars/Olympus"})
    with pytest.raises(ValidationError, match="closes before it opens"):
        RoutingSettings(calendar={"hours": {"mon": ["18:00-09:00"]}})
    with pytest.raises(ValidationError):
        RoutingSettings(unknown_strategy="coin_toss")
    with pytest.raises(ValidationError, match="pattern"):
        RoutingSettings(secretary="front desk")
