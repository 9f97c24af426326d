"""Settings of the CRM adapter, read from ``ESB_CRM__*``; on exactly when ``ESB_CRM__URL``
is set (:class:`~bus.adapters.urlsettings.UrlAdapterSettings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bus.adapters.urlsettings import UrlAdapterSettings

__all__ = ["CrmSettings"]


class CrmSettings(UrlAdapterSettings):
    model_config = SettingsConfigDict(
        env_prefix="ESB_CRM__", env_nested_delimiter="__", extra="ignore")
    system = "CRM"

    profile: Literal["own", "bitrix24"] = Field(
        "own", description="which CRM dialect: our REST API or Bitrix24's REST API")
    url: str = Field("", description="the CRM's REST base URL, e.g. http://crm:8080; for "
                     "bitrix24 the inbound webhook URL https://portal/rest/<user>/<code>")
    token: SecretStr = Field(SecretStr(""), description="API token (Authorization: Bearer)")
    webhook_secret: SecretStr = Field(
        SecretStr(""), description="HMAC-SHA256 key of the CRM's webhooks; empty refuses all")
    webhook_tolerance: float = Field(
        300.0, gt=0, description="seconds a webhook's timestamp may differ from our clock")
    application_token: SecretStr = Field(
        SecretStr(""), description="bitrix24: the application_token its events carry; "
        "empty refuses every event")
    bitrix_default_user: int = Field(
        1, ge=1, description="bitrix24: the user a call is written for when nobody answered "
        "and the customer has no responsible manager")
    timeout: float = Field(10.0, gt=0, description="seconds per HTTP call (connect and read)")
    region: str = Field("RU", pattern="^[A-Z]{2}$",
                        description="region of phone numbers written without a country code")
    callback_due_minutes: int = Field(
        60, ge=0, description="a call-back task for a missed call is due this much later")

