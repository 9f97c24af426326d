"""Settings of the unified window, read from ``ESB_WINDOW__*``."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from bus.adapters import AdapterSettings

__all__ = ["Deadlines", "WindowSettings"]


class Deadlines(BaseModel):
    """Seconds each backend has to answer, counted from the start of the view."""

    profile: float = Field(0.8, gt=0, description="synchronizer: golden record and xref")
    crm: float = Field(0.8, gt=0, description="CRM card")
    billing: float = Field(1.0, gt=0, description="billing accounts, balances, services")
    documents: float = Field(1.0, gt=0, description="document flow")
    calls: float = Field(0.6, gt=0, description="recent calls from the PBX call store")

    def of(self, section: str) -> float:
        value = getattr(self, section)
        assert isinstance(value, float)
        return value


class WindowSettings(AdapterSettings):
    model_config = SettingsConfigDict(env_prefix="ESB_WINDOW__", env_nested_delimiter="__",
                                      extra="ignore")

    deadlines: Deadlines = Field(default_factory=Deadlines)
    cache_ttl: float = Field(30.0, ge=0, description="seconds an answer is served as cached")
    stale_ttl: float = Field(
        600.0, ge=0,
        description="seconds an expired answer may still be shown (marked cached, with the "
                    "reason) when its backend does not answer; invalidated answers never are")
    cache_size: int = Field(10_000, ge=1, description="answers kept at most")
    directory_size: int = Field(100_000, ge=1, description="callers in the screen-pop directory")
    calls_limit: int = Field(10, ge=1, le=500)
    documents_limit: int = Field(50, ge=1, le=500)
    interactions_limit: int = Field(10, ge=0, le=100)
    originate_timeout: float = Field(5.0, gt=0, description="click-to-call reply deadline")
    region: str = Field("RU", description="region for caller numbers without a country code")
    stream_keepalive: float = Field(15.0, gt=0, description="SSE comment every N seconds")
