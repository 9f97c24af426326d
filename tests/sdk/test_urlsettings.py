"""An adapter for a system at a URL is on exactly when its URL is set."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from bus.adapters.urlsettings import UrlAdapterSettings


class TicketSettings(UrlAdapterSettings):
    model_config = SettingsConfigDict(env_prefix="ESB_TICKETS__", env_nested_delimiter="__")
    system = "help desk"


def test_the_adapter_is_off_without_a_url_and_on_with_one(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    assert not TicketSettings().enabled
    monkeypatch.setenv("ESB_TICKETS__URL", "http://helpdesk:8080")
    assert TicketSettings().enabled


def test_switching_it_off_keeps_it_off_with_a_url() -> None:
    assert not TicketSettings(url="http://helpdesk:8080", enabled=False).enabled


def test_switching_it_on_without_a_url_names_the_variable_to_set() -> None:
    with pytest.raises(ValidationError,
                       match="ESB_TICKETS__URL is required when the help desk adapter"):
        TicketSettings(enabled=True)
