"""Settings of the staging-table adapter, read from ``ESB_STAGING__*``.

``enabled`` follows ``url`` (any SQLAlchemy URL of the database that holds the
staging table). The table's name, its id / status / error columns and the
status values are settings, and so is the mapping of its columns to the
fields of one canonical type (built in: a billing accounts table in the shape
of the generator's ``billing_accounts.csv``).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import SettingsConfigDict

from bus.adapters.urlsettings import UrlAdapterSettings

__all__ = ["Column", "StagingSettings"]

Kind = Literal["text", "identifier", "date", "decimal", "money", "integer"]


class Column(BaseModel):
    """Where one canonical field comes from."""

    column: str
    kind: Kind = "text"
    required: bool = False


def _billing_accounts() -> dict[str, Column]:
    return {
        "account.number": Column(column="account_no", kind="identifier", required=True),
        "account.status": Column(column="account_status", required=True),
        "account.balance": Column(column="balance", kind="money", required=True),
        "account.tariff": Column(column="tariff"),
        "account.opened_on": Column(column="opened_at", kind="date"),
    }


class StagingSettings(UrlAdapterSettings):
    model_config = SettingsConfigDict(
        env_prefix="ESB_STAGING__", env_nested_delimiter="__", extra="ignore")
    system = "staging"

    url: str = Field("", description="SQLAlchemy URL of the database with the staging table")
    table: str = Field("esb_staging", description="the staging table (schema.table allowed)")
    id_column: str = "id"
    status_column: str = "status"
    error_column: str = Field("error", description="where the reason of a bad row is written")
    new_status: str = "new"
    done_status: str = "done"
    error_status: str = "error"
    type: str = Field("billing.account.changed.v1", description="canonical type of each row")
    fields: dict[str, Column] = Field(default_factory=_billing_accounts,
                                      description="dotted canonical path -> column")
    constants: dict[str, Any] = Field(default_factory=lambda: {"change": "updated"})
    key: str | None = Field("account.number", description="dotted path of the message key")
    currency: str = Field("RUB", pattern="^[A-Z]{3}$")
    batch_size: int = Field(100, ge=1, le=10_000)
    poll_interval: float = Field(1.0, gt=0, description="seconds between polls")
    outbound_table: str = Field("", description="canonical messages written back here")
    outbound_types: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.outbound_types and not self.outbound_table:
            raise ValueError("ESB_STAGING__OUTBOUND_TABLE is required with OUTBOUND_TYPES")
        return self
