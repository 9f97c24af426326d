"""The one protocol every CRM profile implements, in canonical shapes.

The handlers speak only this protocol, so the mapping to canonical messages is
the same whichever CRM is behind it: :class:`~adapters.crm.own.OwnCrm` (our
REST dialect) or :class:`~adapters.crm.bitrix.gateway.Bitrix24Crm` (Bitrix24's
REST API). ``ESB_CRM__PROFILE`` picks one (:func:`gateway_for`).

Every method takes and returns canonical dicts (``Customer``, ``Interaction``,
the ``card`` of ``crm.card.replied.v1``); errors are the bus's
(:class:`~bus.errors.ExternalSystemUnavailable` is retried,
:class:`~bus.errors.ExternalSystemRejected` dead-lettered, :class:`NotFound`
for a record that does not exist).
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa

from adapters.crm.client import NotFound
from adapters.crm.settings import CrmSettings

__all__ = ["CrmGateway", "NotFound", "gateway_for"]

Canonical = dict[str, Any]


class CrmGateway(Protocol):
    profile: str

    async def find_by_phone(self, phone: str) -> list[Canonical]:
        """Canonical customers having the number (as typed; E.164 first)."""

    async def find_by_inn(self, inn: str) -> list[Canonical]:
        """Canonical customers with the INN."""

    async def get_customer(self, customer_id: str) -> Canonical:
        """A canonical customer by CRM id; :class:`NotFound` if none."""

    async def card(self, customer_id: str, interactions: int = 10) -> Canonical:
        """The ``card`` of ``crm.card.replied.v1``; :class:`NotFound` if none."""

    async def create_lead(self, lead: Canonical) -> tuple[Canonical, bool]:
        """A customer for a new caller (``crm.lead.requested.v1``) with the routed manager
        responsible, once per phone: (the canonical customer, whether it is new)."""

    async def call_ringing(self, call: Canonical) -> None:
        """A ``pbx.call.ringing.v1``: pop the call's card in the CRM for the ringing agents
        where the CRM has one (Bitrix24); our own CRM has none (the operator page does)."""

    async def log_call(self, logged: Canonical) -> bool:
        """Write a call's canonical Interaction once per call id; True if it is new."""

    async def create_callback(self, logged: Canonical, due_minutes: int) -> None:
        """A call-back for the responsible manager of a missed call, once per call."""

    async def annotate(self, annotation: Canonical) -> None:
        """Write ``crm.interaction.annotated.v1`` into the call's interaction;
        :class:`NotFound` while the call is not logged yet."""

    async def record_originate(self, reply: Canonical, key: str) -> None:
        """Note a click-to-call's outcome (``pbx.originate.replied.v1``) once per ``key``."""

    async def close(self) -> None:
        """Release the HTTP connections."""


def gateway_for(settings: CrmSettings, engine: sa.Engine | None = None) -> CrmGateway:
    """The profile ``settings.profile`` names, connected with ``settings``; ``engine`` is
    the bus's database (where the Bitrix24 profile keeps its call ledger)."""
    if settings.profile == "bitrix24":
        from adapters.crm.bitrix.gateway import Bitrix24Crm

        return Bitrix24Crm.from_settings(settings, engine)
    from adapters.crm.own import OwnCrm

    return OwnCrm.from_settings(settings)
