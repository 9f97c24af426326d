"""Settings of the billing adapter, read from ``ESB_BILLING__*``.

``enabled`` follows ``url`` (:class:`~bus.adapters.urlsettings.UrlAdapterSettings`):
with no ``ESB_BILLING__URL`` the adapter is reported as *disabled* and declares
no queues, so ``esb run``, ``esb demo`` and a bus without a billing system are
not disturbed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bus.adapters.urlsettings import UrlAdapterSettings

__all__ = ["DEFAULT_WSDL", "BillingSettings"]

DEFAULT_WSDL = Path(__file__).resolve().parent / "wsdl" / "api3.wsdl"
"""LANBilling's api3.wsdl shipped with the adapter (``encoding.xml`` sits beside it)."""


class BillingSettings(UrlAdapterSettings):
    model_config = SettingsConfigDict(
        env_prefix="ESB_BILLING__", env_nested_delimiter="__", extra="ignore")
    system = "billing"

    url: str = Field("", description="the SOAP endpoint, e.g. http://billing:34012")
    login: str = Field("admin", description="API manager login")
    password: SecretStr = SecretStr("")
    wsdl: Path = Field(DEFAULT_WSDL, description="the WSDL; the shipped api3.wsdl by default")
    timeout: float = Field(10.0, gt=0, description="seconds per SOAP call (connect and read)")
    proxy: str = Field("", description="HTTP proxy to the billing; HTTP(S)_PROXY are not read")
    retries: int = Field(2, ge=0, description="quick retries of a read after a network error")
    concurrency: int = Field(4, ge=1, description="SOAP calls in flight (HTTP pool size)")
    page_size: int = Field(100, ge=1, le=10_000, description="holders per page in exports/polls")
    poll_interval: float = Field(30.0, gt=0, description="seconds between change-feed polls")
    feed: bool = Field(True, description="run the change feed while the adapter runs")
    feed_overlap: float = Field(
        2.0, ge=0, description="seconds re-read before the watermark (late commits)")
    export_on_start: bool = Field(False, description="publish the whole directory at start")
    currency: str = Field("RUB", pattern="^[A-Z]{3}$", description="when billing names none")
    timezone: str = Field("UTC", description="time zone of the billing's local timestamps")
    writeback_fields: tuple[str, ...] = Field(
        ("inn", "passport", "birth_date", "phone", "email"),
        description="canonical fields a sync.customer.updated.v1 may write into billing")
    breaker_failures: int = Field(5, ge=1, description="failures in a row that open the breaker")
    breaker_reset: float = Field(30.0, gt=0, description="seconds before a half-open probe")

