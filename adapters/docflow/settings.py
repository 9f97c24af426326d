"""Settings of the docflow adapter, read from ``ESB_DOCFLOW__*``; on exactly when
``ESB_DOCFLOW__URL`` is set (:class:`~bus.adapters.urlsettings.UrlAdapterSettings`)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bus.adapters.urlsettings import UrlAdapterSettings

__all__ = ["DocflowSettings"]


class DocflowSettings(UrlAdapterSettings):
    model_config = SettingsConfigDict(
        env_prefix="ESB_DOCFLOW__", env_nested_delimiter="__", extra="ignore")
    system = "docflow"

    url: str = Field("", description="the CMIS 1.1 browser binding service URL, e.g. "
                                     "http://alfresco:8080/alfresco/api/-default-/public/cmis/versions/1.1/browser")
    user: str = Field("", description="HTTP basic auth user")
    password: SecretStr = Field(SecretStr(""), description="HTTP basic auth password")
    repository_id: str = Field("", description="the repository; empty: the first one listed")
    document_type: str = Field("esb:document", pattern="^[A-Za-z][A-Za-z0-9_:.\\-]*$",
                               description="the CMIS object type of our documents "
                                           "(with the esb:* properties)")
    timeout: float = Field(10.0, gt=0, description="seconds per HTTP call")
    feed: bool = Field(True, description="poll the repository for new and changed documents")
    poll_interval: float = Field(30.0, gt=0, description="seconds between change-feed polls")
    feed_overlap: float = Field(
        5.0, ge=0, description="seconds each poll looks back before the watermark (late "
                               "commits); what is read twice is published once")
    page_size: int = Field(100, ge=1, le=1000, description="query page size (maxItems)")
    content_base: str = Field(
        "/v1/adapters/docflow/documents",
        description="base of the content links put in canonical documents: "
                    "<content_base>/<id>/content, served by the adapter's API")
    max_content_bytes: int = Field(
        20_000_000, gt=0, description="a content stream read whole (not the streamed download "
                                      "route) larger than this is refused")

