"""Settings of an adapter for a system at a URL: on exactly when the URL is set.

With no ``ESB_<NAME>__URL`` the adapter is reported as *disabled* and declares
no queues; ``ESB_<NAME>__ENABLED=true`` without a URL is a configuration
error, which the adapter host reports and skips.
"""

from __future__ import annotations

from typing import ClassVar, Self

from pydantic import Field, model_validator

from bus.adapters.contract import AdapterSettings

__all__ = ["UrlAdapterSettings"]


class UrlAdapterSettings(AdapterSettings):
    """Subclasses set ``env_prefix`` and :attr:`system`, and describe ``url``."""

    system: ClassVar[str] = "external"
    """How the configuration error names the adapter (``the CRM adapter``)."""

    enabled: bool = Field(False, description="default: true exactly when url is set")
    url: str = Field("", description="where the system answers")

    @model_validator(mode="after")
    def _enabled_follows_url(self) -> Self:
        if "enabled" not in self.model_fields_set:
            self.enabled = bool(self.url)
        elif self.enabled and not self.url:
            prefix = self.model_config.get("env_prefix") or ""
            raise ValueError(f"{prefix}URL is required when the {self.system} adapter "
                             "is enabled")
        return self
