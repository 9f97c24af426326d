"""The Zadarma cloud PBX webhooks' settings: ``ESB_ZADARMA__*``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bus.adapters import AdapterSettings

__all__ = ["ZadarmaSettings"]


class ZadarmaSettings(AdapterSettings):
    """Where the webhook secret is and how to read Zadarma's values."""

    model_config = SettingsConfigDict(env_prefix="ESB_ZADARMA__", env_nested_delimiter="__",
                                      extra="ignore")

    enabled: bool = Field(False, description="off until a Zadarma account is configured")
    api_secret: SecretStr = Field(SecretStr(""), description="the account's API secret: "
                                  "notifications are signed with it (HMAC-SHA1)")
    timezone: str = Field("UTC", description="IANA zone of Zadarma's call_start values "
                          "(the account's time zone)")
    region: str = Field("RU", description="region of national numbers (phonenumbers), for "
                        "the call events' customer_e164")
    retention_days: float = Field(7.0, gt=0, description="days a call's state and its seen "
                                  "notifications are kept (re-sent ones are ignored that long)")
    prune_interval: float = Field(3600.0, gt=0, description="seconds between clean-ups")
    max_echo_chars: int = Field(256, ge=16, description="longest zd_echo value answered")
