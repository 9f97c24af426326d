"""Settings of the watched-folder adapter, read from ``ESB_FILES__*``.

``enabled`` follows ``inbox``: with no ``ESB_FILES__INBOX`` the adapter is
*disabled*. A file dropped straight into the inbox is read with the
``default_profile``; a file in ``<inbox>/<profile name>/`` with that profile.
Profiles say which canonical type a file's rows become and which column (CSV)
or child element (XML) fills which field, e.g.
``ESB_FILES__PROFILES='{"payments": {"type": "billing.balance.changed.v1", ...}}'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import SettingsConfigDict

from bus.adapters import AdapterSettings

__all__ = ["BILLING_ACCOUNTS", "FieldRule", "FilesSettings", "Profile"]

Kind = Literal["text", "identifier", "date", "timestamp", "decimal", "money", "phone",
               "integer"]
RESERVED = frozenset({"processed", "rejected"})


class FieldRule(BaseModel):
    """Where one canonical field comes from, and how its text is read."""

    source: str = Field(description="CSV column or XML child element (or attribute) name")
    kind: Kind = "text"
    required: bool = False


class Profile(BaseModel):
    """How the rows of one kind of file become canonical messages."""

    type: str = Field(description="the canonical message type of each row")
    fields: dict[str, FieldRule] = Field(
        description="dotted canonical path (account.balance) -> where it comes from")
    constants: dict[str, Any] = Field(default_factory=dict,
                                      description="dotted path -> fixed value in every message")
    key: str | None = Field(None, description="dotted path whose value is the message key")
    record: str = Field("record", description="XML: the element of one row")
    currency: str = Field("RUB", pattern="^[A-Z]{3}$", description="currency of money fields")
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"


BILLING_ACCOUNTS = Profile(
    type="billing.account.changed.v1",
    fields={
        "account.number": FieldRule(source="account_no", kind="identifier", required=True),
        "account.status": FieldRule(source="status", required=True),
        "account.balance": FieldRule(source="balance", kind="money", required=True),
        "account.tariff": FieldRule(source="tariff"),
        "account.opened_on": FieldRule(source="opened_at", kind="date"),
    },
    constants={"change": "updated"},
    key="account.number",
    record="account",
)
"""The built-in profile: the billing export ``billing_accounts.csv`` (accounts and balances)."""


class FilesSettings(AdapterSettings):
    model_config = SettingsConfigDict(
        env_prefix="ESB_FILES__", env_nested_delimiter="__", extra="ignore")

    enabled: bool = Field(False, description="default: true exactly when inbox is set")
    inbox: str = Field("", description="the watched folder; processed/ and rejected/ go inside")
    profiles: dict[str, Profile] = Field(
        default_factory=lambda: {"billing_accounts": BILLING_ACCOUNTS},
        description="profile name (= sub-folder of the inbox) -> profile")
    default_profile: str = Field("billing_accounts",
                                 description="the profile of files dropped into the inbox itself")
    poll_interval: float = Field(1.0, gt=0, description="seconds between folder scans")
    stable_ms: int = Field(1000, ge=0, description="a file is read once its size and mtime "
                                                   "have not changed for this long")
    max_file_bytes: int = Field(50_000_000, gt=0, description="larger files are rejected")
    outbox: str = Field("", description="folder outbound messages are written to")
    outbound_types: list[str] = Field(default_factory=list,
                                      description="canonical types (patterns) written as files")
    outbound_format: Literal["csv", "xml"] = "xml"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if "enabled" not in self.model_fields_set:
            self.enabled = bool(self.inbox)
        elif self.enabled and not self.inbox:
            raise ValueError("ESB_FILES__INBOX is required when the files adapter is enabled")
        if self.profiles and self.default_profile not in self.profiles:
            raise ValueError(f"default profile {self.default_profile!r} is not in profiles")
        if RESERVED & set(self.profiles):
            raise ValueError("'processed' and 'rejected' cannot be profile names")
        if self.outbound_types and not self.outbox:
            raise ValueError("ESB_FILES__OUTBOX is required with ESB_FILES__OUTBOUND_TYPES")
        return self

    @property
    def inbox_path(self) -> Path:
        return Path(self.inbox)

    @property
    def processed_path(self) -> Path:
        return Path(self.inbox) / "processed"

    @property
    def rejected_path(self) -> Path:
        return Path(self.inbox) / "rejected"
