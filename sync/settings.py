"""The synchronizer's settings (``ESB_SYNC__*``): storage, survivorship, write-back, matching."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from bus.adapters import AdapterSettings

__all__ = ["GOLDEN_FIELDS", "FieldRule", "SyncSettings"]

Strategy = Literal["trusted_source", "most_recent", "most_complete"]

GOLDEN_FIELDS = ("kind", "name", "birth_date", "inn", "passport", "phones", "email",
                 "city", "address", "segment", "manager_id")
"""The attributes a golden record carries, each chosen by a :class:`FieldRule`."""


class FieldRule(BaseModel):
    """How one golden attribute is chosen among the cluster's records.

    ``trusted_source``: the first system in ``systems`` that has a value (ties: the most
    recent record); ``most_recent``: the value of the most recently updated record;
    ``most_complete``: the longest value (ties: the most recent).
    """

    strategy: Strategy = "trusted_source"
    systems: tuple[str, ...] = ("crm", "billing", "docflow")


_ANY_TRUSTED_SOURCE = FieldRule()
"""The rule of an attribute the settings leave out (one instance, never changed)."""


def _default_rules() -> dict[str, FieldRule]:
    crm_first = FieldRule(strategy="trusted_source", systems=("crm", "billing", "docflow"))
    billing_first = FieldRule(strategy="trusted_source", systems=("billing", "crm", "docflow"))
    return {
        "kind": crm_first,
        "name": crm_first,
        "birth_date": billing_first,   # billing checks the passport when it opens an account
        "inn": billing_first,
        "passport": billing_first,
        "phones": FieldRule(strategy="most_recent"),
        "email": crm_first,
        "city": FieldRule(strategy="most_recent"),
        "address": FieldRule(strategy="most_complete"),
        "segment": crm_first,
        "manager_id": crm_first,
    }


class SyncSettings(AdapterSettings):
    """How the synchronizer builds golden records, what it may write back, how it matches.

Its tables live in the bus's database (``ESB_DATABASE_URL``), so that its events
leave through the bus's transactional outbox in the same transaction.

    ``match`` is passed to the matching engine (:class:`sync.match.MatchSettings`)
    as is; an empty mapping means the engine's defaults.
    """

    model_config = SettingsConfigDict(env_prefix="ESB_SYNC__", env_nested_delimiter="__",
                                      extra="ignore")

    survivorship: dict[str, FieldRule] = Field(
        default_factory=_default_rules, description="per golden attribute: how its value is chosen")
    write_back: tuple[str, ...] = Field(
        (), description="systems that may be written back from golden records "
                        "(sync.customer.updated.v1 is addressed to their records only)")
    match: dict[str, Any] = Field(
        default_factory=dict, description="matching engine settings (sync.match.MatchSettings)")
    batch_size: int = Field(5000, ge=100, description="rows per bulk insert")
    run_attempts: int = Field(
        3, ge=1, description="matches a full run tries when other writers keep changing the "
        "store while it matches (each attempt that finds the store changed writes nothing)")
    run_hold_seconds: float = Field(
        600.0, gt=0, description="how long a full run's hold on the incremental consumer "
        "lasts unless the run renews it (it does, every sixth of this; a run that dies "
        "on this host releases it at once): every synchronizer process pauses "
        "sync.changes while a run holds the store")
    hold_poll_seconds: float = Field(
        1.0, gt=0, description="how often a synchronizer process looks for a full run's hold")
    publish_initial_links: bool = Field(
        False, description="publish sync.customer.linked.v1 for every record of the very "
                           "first reconciliation (off: a first load of 1M records stays quiet)")
    actor: str = Field("sync", description="who the engine's own changes are recorded as")

    def rule(self, field: str) -> FieldRule:
        found = self.survivorship.get(field)
        return _ANY_TRUSTED_SOURCE if found is None else found  # asked 11 times per customer
