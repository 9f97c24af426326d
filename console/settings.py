"""Settings of the console, read from ``ESB_CONSOLE__*``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bus.adapters import AdapterSettings

__all__ = ["ConsoleSettings"]


class ConsoleSettings(AdapterSettings):
    model_config = SettingsConfigDict(env_prefix="ESB_CONSOLE__", env_nested_delimiter="__",
                                      extra="ignore")

    sample_interval: float = Field(1.0, gt=0, le=60)
    """Seconds between two readings of the bus's counters (one chart point)."""
    history: int = Field(120, ge=2, le=3600)
    """Readings kept for the charts."""
    rate_window: float = Field(5.0, gt=0, le=600)
    """Seconds over which the current rates are averaged."""
